// One recipient on a far server that never answers must not hold back, or repeat, the others
// (docs/design.md §Delivery state machine: outcomes per delivery; one proof ping to our own server).
// Prosody gets server-to-server on for this file, with `far.test` resolving to a peer that opens its
// stream and then says nothing: Prosody holds the stanzas for it until its s2s timeout, then bounces them.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { startDnsServer, type DnsServer } from "../support/dns-server.ts";
import { checkNothingLost, tokenOf } from "../support/invariants.ts";
import { buildMail, sendRaw } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const FAR_DOMAIN = "far.test";
/** Longer than the old per-domain proof ping waited (10 s), so a wait for the far server would show. */
const S2S_TIMEOUT_SECONDS = 15;

/** A "server" for far.test on port 5269 of a loopback address of its own: it opens its stream, then hangs. */
async function startSilentPeer(host: string): Promise<{ close(): Promise<void>; connections: () => number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.once("data", () => socket.write("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
      + `xmlns:stream='http://etherx.jabber.org/streams' id='silent' from='${FAR_DOMAIN}' version='1.0'>`));
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(5269, host, () => resolve()));
  return {
    connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe("a recipient whose server never answers, in a batch with local ones", () => {
  let stack: Stack;
  let dns: DnsServer;
  let peer: Awaited<ReturnType<typeof startSilentPeer>>;
  const locals: ChatClient[] = [];
  const accepted: string[] = [];
  const farHost = `127.0.${10 + Math.floor(Math.random() * 200)}.${10 + Math.floor(Math.random() * 200)}`;

  before(async () => {
    peer = await startSilentPeer(farHost);
    dns = await startDnsServer(); // NXDOMAIN for the SRV lookup: Prosody falls back to far.test's address, port 5269
    stack = await startStack({ server: "prosody" });
    const hosts = join(stack.server.dir, "hosts");
    await writeFile(hosts, `${farHost} ${FAR_DOMAIN}\n`);
    const config = await readFile(stack.server.configPath, "utf8");
    const withS2s = config.replace(/^\t"s2s";\n/m, "");
    assert.notEqual(withS2s, config, "the template disables s2s in modules_disabled");
    await stack.server.stop();
    // Outgoing s2s only (s2s_ports stays empty); names resolved from our hosts file, the rest by our DNS server.
    await writeFile(stack.server.configPath, `s2s_timeout = ${S2S_TIMEOUT_SECONDS}
unbound = { hoststxt = ${JSON.stringify(hosts)}; resolvconf = false; forward = "${dns.address.replace(":", "@")}" }
${withS2s}`);
    await stack.server.start();
    for (const name of ["toto", "titi", "tata"]) locals.push((await stack.user(name))!);
    await stack.db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`far@${MAIL_DOMAIN}`, `someone@${FAR_DOMAIN}`]);
    await waitFor("the gateway back on the restarted server", async () => (await stack.gateway.health())?.body.xmpp === "online", 30_000);
  });
  after(async () => {
    if (stack) assert.deepEqual(await checkNothingLost(stack.db, accepted), []);
    await stack?.close();
    await dns?.close();
    await peer?.close();
  });

  it("each local recipient gets exactly one copy; the far one retries on its own bounces", async () => {
    const subject = `far batch ${Date.now()}`;
    const recipients = [`far@${MAIL_DOMAIN}`, `toto@${MAIL_DOMAIN}`, `titi@${MAIL_DOMAIN}`, `tata@${MAIL_DOMAIN}`];
    const reply = await sendRaw(stack.gateway.smtpPort, "alice@example.com", recipients,
      buildMail({ From: "alice@example.com", To: recipients.join(", "), Subject: subject }, "one mail, four recipients\r\n"));
    const token = tokenOf(reply.data);
    assert.ok(token, reply.data?.text);
    accepted.push(token);
    const copies = (c: ChatClient) => c.messages.filter((m: Element) => (m.getChildText("body") ?? "").startsWith(subject));
    await waitFor("every local recipient has the mail", () => locals.every((c) => copies(c).length >= 1), 30_000);
    const started = Date.now();

    // Prosody tried far.test (our silent peer saw it), gave up after its s2s timeout and bounced the stanza
    // (wait/remote-server-timeout: temporary); the delivery is claimed again later, attempts growing.
    const farRow = async () => (await stack.db.query<{ attempts: number; status: string; last_error: string | null }>(
      "SELECT d.attempts, d.status, d.last_error FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.token = $1 AND d.recipient = $2",
      [token, `far@${MAIL_DOMAIN}`]))[0];
    const bounced = await waitFor("the far delivery bounced", async () => {
      const row = await farRow();
      return row?.status === "pending" && row.last_error ? row : null;
    }, 60_000, 200);
    assert.match(bounced.last_error ?? "", /remote-server-timeout/);
    assert.equal(bounced.attempts, 1);
    assert.ok(peer.connections() >= 1, "Prosody did try the far server");
    await waitFor("the far delivery claimed again", async () => ((await farRow())?.attempts ?? 0) >= 2, 90_000, 500);
    // A window well beyond a few retry periods of the loop (2 s polls, a batch given back every ~12 s).
    const window = 40_000 - (Date.now() - started);
    if (window > 0) await sleep(window);

    for (const c of locals) assert.equal(copies(c).length, 1, `${c.jid} got exactly one copy`);
    const rows = await stack.db.query<{ recipient: string; status: string; attempts: number }>(
      "SELECT d.recipient, d.status, d.attempts FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.token = $1 AND d.recipient <> $2 ORDER BY d.recipient",
      [token, `far@${MAIL_DOMAIN}`]);
    assert.deepEqual(rows.map((r) => [r.recipient, r.status, r.attempts]),
      [[`tata@${MAIL_DOMAIN}`, "delivered", 1], [`titi@${MAIL_DOMAIN}`, "delivered", 1], [`toto@${MAIL_DOMAIN}`, "delivered", 1]]);
  });
});
