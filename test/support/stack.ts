// The whole thing, real parts only: an XMPP server (Prosody by default, or ejabberd), a fresh
// PostgreSQL database, the gateway process, and a chat client logged in as the mapped user.
import { startEjabberd } from "./ejabberd.ts";
import { createGateway, type Gateway } from "./gateway.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { startProsody } from "./prosody.ts";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.ts";
import { connectClient, type ChatClient } from "./xmpp-client.ts";
import type { XmppServer } from "./xmpp-server.ts";

export const MAIL_DOMAIN = "jabber.test";
export const COMPONENT_DOMAIN = "mail.localhost";
export const SECRET = "component-secret";

export type ServerKind = "prosody" | "ejabberd";

export interface StackOptions {
  gatewayEnv?: Record<string, string>;
  /** default: $TEST_XMPP_SERVER, else "prosody" (`TEST_XMPP_SERVER=ejabberd npm run test:integration`) */
  server?: ServerKind;
  /** Route the gateway's component connection through a TCP proxy (`stack.xmppProxy`), to cut the link. */
  xmppProxy?: boolean;
  /** Prosody only: VirtualHosts of "another server" (`stack.server.register(name, password, domain)`) */
  otherDomains?: string[];
  /** XEP-0356: the server grants the gateway roster and message permission (xmpp-server.ts); default off */
  privilege?: boolean;
}

export interface Stack {
  server: XmppServer;
  /** the same object as `server`, whichever it is (the name predates ejabberd) */
  prosody: XmppServer;
  db: TestDatabase;
  /** the gateway reaches PostgreSQL through this proxy, so a test can cut the database */
  dbProxy: TcpProxy;
  /** with `xmppProxy`: the gateway reaches the XMPP server's component port through this proxy */
  xmppProxy: TcpProxy | null;
  gateway: Gateway;
  /** Register `user` on the XMPP server, map `user@MAIL_DOMAIN` to it with SQL, and log a client in. */
  user(name: string, options?: { connect?: boolean }): Promise<ChatClient | null>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const start = (options.server ?? defaultServer()) === "ejabberd" ? startEjabberd : startProsody;
  if (options.otherDomains && start !== startProsody) throw new Error("otherDomains: Prosody only");
  const server = await start({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET, privilege: options.privilege ?? false,
    ...(options.otherDomains ? { otherDomains: options.otherDomains } : {}) });
  const db = await createTestDatabase();
  const dbProxy = await startTcpProxy(5432);
  const url = new URL(db.url);
  url.host = `127.0.0.1:${dbProxy.port}`;
  const xmppProxy = options.xmppProxy ? await startTcpProxy(server.componentPort) : null;
  const gateway = await createGateway({
    databaseUrl: url.toString(),
    mailDomains: MAIL_DOMAIN,
    xmppService: `xmpp://127.0.0.1:${xmppProxy?.port ?? server.componentPort}`,
    xmppDomain: COMPONENT_DOMAIN,
    xmppSecret: SECRET,
    env: options.gatewayEnv,
  });
  const clients: ChatClient[] = [];
  try {
    await gateway.start();
  } catch (err) {
    await server.destroy();
    await dbProxy.close();
    await xmppProxy?.close();
    await db.drop();
    throw err;
  }
  return {
    server, prosody: server, db, dbProxy, xmppProxy, gateway,
    async user(name, { connect = true } = {}) {
      await server.register(name, "secret");
      await db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`${name}@${MAIL_DOMAIN}`, `${name}@${server.domain}`]);
      if (!connect) return null;
      const c = await connectClient(server.c2sPort, server.domain, name, "secret");
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) await c.stop();
      await gateway.stop().catch(() => undefined);
      await server.destroy();
      await dbProxy.close();
      await xmppProxy?.close();
      await db.drop();
    },
  };
}

function defaultServer(): ServerKind {
  const kind = process.env.TEST_XMPP_SERVER || "prosody";
  if (kind !== "prosody" && kind !== "ejabberd") throw new Error(`TEST_XMPP_SERVER=${kind}: expected prosody or ejabberd`);
  return kind;
}

/** The JID a correspondent's address appears as (docs/design.md §Contract, Addressing), for assertions. */
export function contactJid(address: string): string {
  return `${address.replace("@", "\\40").toLowerCase()}@${COMPONENT_DOMAIN}`;
}
