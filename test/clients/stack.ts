// The gateway for the real-client tests: a real Prosody, a fresh PostgreSQL database and the gateway
// process, like test/support/stack.ts, and optionally Prosody's mod_privilege (XEP-0356, Debian's
// prosody-modules) granting the gateway's component roster and message permission on the users' host.
import { createGateway, type Gateway } from "../support/gateway.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";
import { startProsody, type Prosody } from "../support/prosody.ts";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, SECRET } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";

export interface ClientStackOptions {
  /** Grant the component XEP-0356 roster "both" and message "outgoing" permission (mod_privilege). */
  privilege: boolean;
}

export interface ClientStack {
  server: Prosody;
  db: TestDatabase;
  gateway: Gateway;
  /** Register `name` with `password` and map `name@MAIL_DOMAIN` to it; returns the mail address. */
  user(name: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export async function startClientStack(options: ClientStackOptions): Promise<ClientStack> {
  const server = await startProsody({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET, privilege: options.privilege });
  const cleanup: Array<() => Promise<void>> = [() => server.destroy()];
  const close = async () => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  };
  try {
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const gateway = await createGateway({
      databaseUrl: db.url,
      mailDomains: MAIL_DOMAIN,
      xmppService: `xmpp://127.0.0.1:${server.componentPort}`,
      xmppDomain: COMPONENT_DOMAIN,
      xmppSecret: SECRET,
    });
    cleanup.push(async () => { await gateway.stop(); });
    await gateway.start();
    // mod_privilege logs this when the component connects with permissions granted (Prosody's debug log).
    if (options.privilege) {
      await waitFor("mod_privilege to grant the gateway its permissions (is prosody-modules installed?)",
        async () => (await server.logs()).includes("Entity is privileged"), 10_000, 100);
    }
    return {
      server, db, gateway, close,
      async user(name, password) {
        await server.register(name, password);
        const address = `${name}@${MAIL_DOMAIN}`;
        await db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [address, `${name}@${server.domain}`]);
        return address;
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
