// SIGTERM while a client is in the middle of DATA (README: serve stops gracefully): no new connections,
// the open transaction finishes — 250 only with the message committed, or 421 with nothing stored — then
// a clean exit, and mail accepted before the stop is delivered after the restart.
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Gateway } from "../support/gateway.ts";
import { SmtpSession } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";

/** Resolves with `promise`, or rejects after `ms`: every wait here is bounded. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms); }),
  ]);
}

type Attempt = "refused" | "reset" | "421" | "220" | "other" | "silent";

/** A new TCP connection to the SMTP port, as a client would try one, and what it got within 3 s:
 * refused, reset (closed without a greeting: the kernel drops what was still in the listen backlog),
 * a 421 or 220 greeting, or nothing at all (silent — a client left hanging). */
function tryConnect(port: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    let text = "";
    const done = (a: Attempt) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done("silent"), 3000);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("\r\n")) done(text.startsWith("421") ? "421" : text.startsWith("220") ? "220" : "other");
    });
    socket.on("error", (err: NodeJS.ErrnoException) => done(err.code === "ECONNREFUSED" ? "refused" : "reset"));
    socket.on("close", () => done("reset"));
  });
}

const turnedAway = (a: Attempt) => a === "refused" || a === "reset" || a === "421";

/** The gateway's log since `offset` (its output() accumulates over restarts). */
const logSince = (gateway: Gateway, offset: number) => gateway.output().slice(offset);

/** Start the gateway again and wait for THIS run's "passerelle started": gateway.start() alone is
 * satisfied by the previous run's line still in output(). */
async function restart(gateway: Gateway): Promise<void> {
  const offset = gateway.output().length;
  await gateway.start();
  await waitFor("the restarted gateway to listen", () => logSince(gateway, offset).includes('"passerelle started"'), 30_000);
}

describe("SIGTERM during DATA", () => {
  let stack: Stack;
  let toto: ChatClient;

  before(async () => {
    stack = await startStack();
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
  });

  it("refuses new connections, finishes the open transaction (250 only once committed), exits 0, delivers after restart", async (t) => {
    const gateway = stack.gateway;
    const { session, greeting } = await SmtpSession.open(gateway.smtpPort);
    assert.equal(greeting.code, 220);
    assert.equal((await session.command("EHLO client.example")).code, 250);
    assert.equal((await session.command("MAIL FROM:<alice@example.com>")).code, 250);
    assert.equal((await session.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
    assert.equal((await session.command("DATA")).code, 354);
    const subject = `sigterm during data ${Date.now()}`;
    session.write(`From: Alice <alice@example.com>\r\nTo: toto@${MAIL_DOMAIN}\r\nSubject: ${subject}\r\n\r\nfirst half of the text\r\n`);
    // A second client, between MAIL and RCPT when the signal comes: not in DATA yet.
    const { session: other } = await SmtpSession.open(gateway.smtpPort);
    assert.equal((await other.command("EHLO other.example")).code, 250);
    assert.equal((await other.command("MAIL FROM:<bob@example.com>")).code, 250);
    await sleep(200); // the first half is at the server before the signal

    const offset = gateway.output().length;
    const started = Date.now();
    let exitCode: number | null | undefined;
    const exited = gateway.stop();
    void exited.then((code) => { exitCode = code; });

    // No new connections: refused (the listener closed) or 421, within a few seconds.
    const attempts: string[] = [];
    const attempt = await waitFor("new SMTP connections to be turned away", async () => {
      const r = await tryConnect(gateway.smtpPort);
      attempts.push(`${r}@${Date.now() - started}ms`);
      return r === "220" ? null : r; // a 220 only while the signal is not handled yet
    }, 5000, 100);
    assert.ok(turnedAway(attempt), `a new connection got: ${attempt}`);
    t.diagnostic(`new connections after SIGTERM: ${attempts.join(", ")}`);
    // Turned away for good, not just once (the first attempt may have raced the signal).
    for (let i = 0; i < 3; i++) {
      await sleep(50);
      const again = await tryConnect(gateway.smtpPort);
      assert.ok(turnedAway(again), `a later connection got: ${again}`);
    }
    assert.match(logSince(gateway, offset), /"stopping: no new connections/);
    // The session not yet in DATA is told 421 at its next command and let go, so it cannot hold the stop.
    const late = await other.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`);
    assert.equal(late.code, 421, `${late.code} ${late.text}`);
    await waitFor("the server to close the 421 session", () => other.closed, 5000);
    other.close();
    // The gateway waits for the open transaction instead of exiting under it.
    assert.equal(exitCode, undefined, `the gateway exited (${exitCode}) with a transaction open`);
    assert.equal(session.closed, false, "the open session is still connected");

    session.write("second half of the text\r\n.\r\n");
    const reply = await session.read(10_000);
    t.diagnostic(`after the final dot: ${reply.code} ${reply.text} (${Date.now() - started} ms after SIGTERM)`);
    assert.ok(Date.now() - started < 10_000, "the transaction finished well before the 30 s close timeout");
    const rows = await stack.db.query<{ token: string; body: string; n: number }>(
      `SELECT m.token, m.body, (SELECT count(*)::int FROM deliveries d WHERE d.message_id = m.id) AS n
         FROM messages m WHERE m.subject = $1`, [subject]);
    if (reply.code === 250) {
      const token = /queued as (\S+)/.exec(reply.text)?.[1];
      assert.ok(token, `250 names the queue id: ${reply.text}`);
      assert.equal(rows.length, 1, "250 means the message row is committed");
      assert.equal(rows[0]!.token, token);
      assert.equal(rows[0]!.n, 1, "and one delivery row for the one recipient");
      assert.match(rows[0]!.body, /first half of the text\s+second half of the text/, "the whole text, both halves");
    } else {
      assert.equal(reply.code, 421, `the only other acceptable answer is 421, got ${reply.code} ${reply.text}`);
      assert.equal(rows.length, 0, "421 means nothing was stored");
    }

    // The session is over for this server: QUIT (answered or not), then the process exits by itself.
    await session.command("QUIT").catch(() => undefined);
    session.close();
    const code = await within(exited, 15_000, "the gateway's exit after the last session left");
    assert.equal(code, 0, logSince(gateway, offset));
    assert.match(logSince(gateway, offset), /"passerelle stopped"/);
    assert.equal(await tryConnect(gateway.smtpPort), "refused", "nothing listens after the exit");

    await restart(gateway);
    if (reply.code === 250) {
      const m = await toto.waitForMessage((s) => body(s).startsWith(subject), "the mail accepted during the shutdown", 30_000);
      assert.equal(m.attrs.from, contactJid("alice@example.com"));
      assert.match(body(m), /second half of the text/);
      await waitFor("the delivery marked delivered", async () => {
        const [d] = await stack.db.query<{ status: string }>(
          "SELECT d.status FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.subject = $1", [subject]);
        return d?.status === "delivered";
      });
    }
  });

  it("a second SIGTERM exits at once (exit 1): the unfinished mail gets no 250 and leaves no row", async () => {
    const gateway = stack.gateway;
    const { session } = await SmtpSession.open(gateway.smtpPort);
    try {
      await session.command("EHLO client.example");
      await session.command("MAIL FROM:<alice@example.com>");
      assert.equal((await session.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
      assert.equal((await session.command("DATA")).code, 354);
      const subject = `second signal ${Date.now()}`;
      session.write(`From: alice@example.com\r\nSubject: ${subject}\r\n\r\nonly half\r\n`);
      await sleep(200);
      const offset = gateway.output().length;
      const first = gateway.stop();
      await waitFor("the first signal handled", () => logSince(gateway, offset).includes('"stopping: no new connections'), 5000);
      const second = gateway.stop();
      const code = await within(second, 5000, "the exit after the second signal");
      assert.equal(code, 1);
      assert.equal(await first, 1);
      assert.match(logSince(gateway, offset), /"second signal: exiting now"/);
      assert.doesNotMatch(logSince(gateway, offset), /"passerelle stopped"/);
      // The client never saw a reply for it (the connection just closed) and nothing was stored.
      await waitFor("the session closed", () => session.closed, 5000);
      await assert.rejects(session.read(100), /without a reply/);
      assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = $1", [subject])).length, 0);
    } finally {
      session.close();
    }
    await restart(gateway);
    const back = await SmtpSession.open(gateway.smtpPort);
    back.session.close();
    assert.equal(back.greeting.code, 220, "serves again after the restart");
  });
});
