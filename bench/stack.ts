// The benchmark's own stack: Prosody, a fresh PostgreSQL database, the gateway as a child process, and
// one mapped user logged in as the fast receiver. Built from test/support, without its TCP proxy in
// front of PostgreSQL (the proxy runs in this process and would be part of what is measured).
import { readFile, writeFile } from "node:fs/promises";
import { createGateway, type Gateway } from "../test/support/gateway.ts";
import { createTestDatabase, type TestDatabase } from "../test/support/postgres.ts";
import { startProsody, type Prosody } from "../test/support/prosody.ts";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, SECRET } from "../test/support/stack.ts";
import { findChild } from "./proc.ts";
import { connectReceiver, type Receiver } from "./receiver.ts";

export const USER = "toto";
const PASSWORD = "secret";

export interface BenchStack {
  prosody: Prosody;
  db: TestDatabase;
  gateway: Gateway;
  /** replaced when the user logs in again (scenario 7 restarts the XMPP server) */
  receiver: Receiver;
  /** the mailbox the load is sent to */
  address: string;
  /** the gateway's node process (bin/passerelle execs node) */
  gatewayPid(): Promise<number>;
  close(): Promise<void>;
}

export async function startBenchStack(gatewayEnv: Record<string, string>): Promise<BenchStack> {
  const prosody = await startProsody({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET });
  await quietProsody(prosody);
  const db = await createTestDatabase();
  const gateway = await createGateway({
    databaseUrl: db.url,
    mailDomains: MAIL_DOMAIN,
    xmppService: `xmpp://127.0.0.1:${prosody.componentPort}`,
    xmppDomain: COMPONENT_DOMAIN,
    xmppSecret: SECRET,
    // The load is the point: no per-mailbox sending limit (scenario 4 sends 1,000 chat messages), no
    // per-address connection limit (every load comes from 127.0.0.1; scenario 5 opens 1,000 sessions), no
    // DNS checks (sender authentication needs a resolver; test/support/gateway.ts turns it off), no
    // per-JID stanza rate and room for a whole burst in the sender's queue (the sender is one account).
    env: { SEND_LIMIT_PER_MINUTE: "0", SEND_LIMIT_PER_DAY: "0", SMTP_MAX_PER_IP: "100000",
      XMPP_SENDER_PER_MINUTE: "0", XMPP_SENDER_QUEUE: "100000", XMPP_PENDING_MAX: "100000", ...gatewayEnv },
  });
  try {
    await gateway.start();
    await prosody.register(USER, PASSWORD);
    await db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`${USER}@${MAIL_DOMAIN}`, `${USER}@${prosody.domain}`]);
  } catch (err) {
    await gateway.stop().catch(() => undefined);
    await prosody.destroy();
    await db.drop();
    throw err;
  }
  const receiver = await connectReceiver(prosody.c2sPort, prosody.domain, USER, PASSWORD, COMPONENT_DOMAIN);
  const stack: BenchStack = {
    prosody, db, gateway, receiver,
    address: `${USER}@${MAIL_DOMAIN}`,
    gatewayPid: () => findChild(["main.ts", "serve"]),
    async close() {
      await stack.receiver.stop();
      await gateway.stop().catch(() => undefined);
      await prosody.destroy();
      await db.drop();
    },
  };
  return stack;
}

/**
 * The test config logs everything at debug level to a file: a line or more per stanza, which at
 * thousands of stanzas a second would measure Prosody's logging. Keep info (its stop() reads
 * "Shutdown complete" from the log) and restart on the same ports. Nagle off, as we ship Prosody.
 */
async function quietProsody(prosody: Prosody): Promise<void> {
  const config = await readFile(prosody.configPath, "utf8");
  let quiet = config.replace(/levels = \{ min = "debug" \}/, 'levels = { min = "info" }');
  // As deploy/prosody/prosody.cfg.lua ships it; BENCH_PROSODY_NAGLE=1 measures Prosody's default.
  if (process.env.BENCH_PROSODY_NAGLE !== "1") quiet = quiet.replace(/^VirtualHost/m, "network_settings = { nagle = false }\nVirtualHost");
  if (quiet === config) return;
  await writeFile(prosody.configPath, quiet);
  await prosody.stop();
  await prosody.start();
}
