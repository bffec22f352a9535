// The memory budget of mail in flight (docs/design.md §Budgets; src/smtp/memory.ts): a bounded burst of
// large mails from several addresses against a small budget gets some `451 4.3.1`, every `250` is stored
// and delivered, the gateway's resident memory stays under the bound the README states, a small mail from
// another address is still accepted meanwhile, and room comes back after the burst. Then mail that comes
// faster than it can be parsed: the parse queue stays at its bound and answers `451 4.3.1` past it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { bombs } from "../support/bombs.ts";
import { checkNothingLost, tokenOf } from "../support/invariants.ts";
import { buildMail, SmtpSession, type Reply } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";

const MIB = 1024 * 1024;
const TOTO = `toto@${MAIL_DOMAIN}`;
const BUDGET_MB = 64;
const PARSE_MEMORY_MB = 64;
const THREADS = 2;
/** README §Budgets: resident ≤ baseline (200 MiB) + 3 × SMTP_MEMORY_MB + PARSE_THREADS × (PARSE_MEMORY_MB + 48 MiB). */
const RSS_BOUND_MB = 200 + 3 * BUDGET_MB + THREADS * (PARSE_MEMORY_MB + 48);

/** A mail of about `bytes` bytes of plain text, in 76-character lines. */
function largeMail(subject: string, bytes: number): Buffer {
  const line = `${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(2).slice(0, 74)}\r\n`;
  return Buffer.from(buildMail({ From: "big@example.com", To: TOTO, Subject: subject }, line.repeat(Math.ceil(bytes / line.length))), "latin1");
}

/** One transaction from `localAddress`; `declare`: with SIZE= at MAIL FROM (RFC 1870). */
async function send(port: number, localAddress: string, mail: Buffer, declare: boolean): Promise<{ mail: Reply; data: Reply | null }> {
  const { session } = await SmtpSession.open(port, "127.0.0.1", localAddress);
  try {
    await session.command("EHLO client.example");
    const from = await session.command(`MAIL FROM:<big@example.com>${declare ? ` SIZE=${mail.length}` : ""}`);
    if (from.code !== 250) return { mail: from, data: null };
    assert.equal((await session.command(`RCPT TO:<${TOTO}>`)).code, 250);
    const data = await session.data(mail);
    await session.command("QUIT").catch(() => undefined);
    return { mail: from, data };
  } finally {
    session.close();
  }
}

/** A transaction from `localAddress` left in DATA after the 354, its SIZE= declared (and so held). */
async function park(port: number, localAddress: string, mail: Buffer): Promise<SmtpSession> {
  const { session } = await SmtpSession.open(port, "127.0.0.1", localAddress);
  await session.command("EHLO client.example");
  assert.equal((await session.command(`MAIL FROM:<big@example.com> SIZE=${mail.length}`)).code, 250);
  assert.equal((await session.command(`RCPT TO:<${TOTO}>`)).code, 250);
  assert.equal((await session.command("DATA")).code, 354);
  return session;
}

/** Send a parked transaction's data and final dot; its answer. */
async function finish(session: SmtpSession, mail: Buffer): Promise<Reply> {
  session.write(Buffer.concat([mail, Buffer.from("\r\n.\r\n")]));
  try {
    return await session.read(60_000);
  } finally {
    session.close();
  }
}

/** The answer that decided the transaction: MAIL FROM's when it refused, else DATA's. */
const final = (r: { mail: Reply; data: Reply | null }): Reply => r.data ?? r.mail;

/** Samples the process's VmRSS every 100 ms; `stop()` gives the peak in MiB. */
function sampleRss(pid: number) {
  let peak = 0;
  const read = () => {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    if (m) peak = Math.max(peak, Number(m[1]) / 1024);
  };
  read();
  const timer = setInterval(read, 100);
  return { stop: () => { clearInterval(timer); read(); return peak; } };
}

describe("SMTP memory budget", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ gatewayEnv: {
      SMTP_MEMORY_MB: String(BUDGET_MB), SMTP_MAX_SIZE: String(8 * MIB), PARSE_MEMORY_MB: String(PARSE_MEMORY_MB),
      PARSE_THREADS: String(THREADS), SMTP_MAX_PER_IP: "10",
    } });
    await stack.user("toto");
  });
  after(async () => {
    await stack?.close();
  });

  it("answers 451 4.3.1 past the budget, stores and delivers every 250, stays under its memory bound, and serves others", async (t) => {
    const port = stack.gateway.smtpPort;
    const mail = largeMail("large", 5 * MIB);
    const rss = sampleRss(stack.gateway.pid()!);
    // 40 × 5 MiB from 8 addresses (each share 16 MiB: three such mails at a time): 20 without SIZE=
    // (refused, if at all, after their data), then, once the budget is spent, 20 that declare SIZE=
    // (refused at MAIL FROM or after their data, whichever finds no room).
    let bigDone = 0;
    const wave = (declare: boolean) => Array.from({ length: 20 }, (_, i) =>
      send(port, `127.0.0.${11 + (i % 8)}`, mail, declare).finally(() => { bigDone++; }));
    const first = wave(false);
    const spent = () => stack.gateway.output().includes("memory budget spent") || bigDone > 0;
    await waitFor("the budget to be spent", spent, 60_000);
    const burst = Promise.all([...first, ...wave(true)]);
    // A small mail from an address of its own, while the burst is being received.
    const small = await send(port, "127.0.0.99", Buffer.from(buildMail({ From: "small@example.com", To: TOTO, Subject: "small" }, "hello\r\n")), false);
    const results = await burst;
    const peakMb = rss.stop();
    t.diagnostic(`VmRSS peak ${peakMb.toFixed(0)} MiB (bound ${RSS_BOUND_MB}); answers ${results.map((r) => `${r.data ? "D" : "M"}${final(r).code}`).join(" ")}`);

    assert.equal(final(small).code, 250, `the small mail: ${JSON.stringify(final(small))}`);
    const codes = results.map((r) => final(r).code);
    const refused = results.filter((r) => final(r).code === 451);
    assert.ok(refused.length > 0, `some of the burst are refused: ${codes.join(",")}`);
    for (const r of refused) assert.match(final(r).text, /^4\.3\.1 /);
    assert.ok(refused.some((r) => r.data !== null), "data past the budget is refused after the dot");
    assert.deepEqual(codes.filter((c) => c !== 250 && c !== 451), [], "only 250 or 451");
    const accepted = [...results, small].map((r) => tokenOf(r.data)).filter((t): t is string => t !== null);
    assert.ok(accepted.length > 1, `some of the burst are accepted: ${codes.join(",")}`);
    assert.deepEqual(await checkNothingLost(stack.db, accepted), []);
    await waitFor("every accepted mail delivered", async () => (await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.token = ANY($1) AND d.status = 'delivered'",
      [accepted]))[0]!.n === accepted.length, 120_000);
    assert.ok(peakMb < RSS_BOUND_MB, `VmRSS peaked at ${peakMb.toFixed(0)} MiB, the stated bound is ${RSS_BOUND_MB} MiB`);

    // Room comes back: one address's whole share at once (three 5 MiB mails) is accepted now.
    const again = await Promise.all([0, 1, 2].map((i) => send(port, "127.0.0.11", largeMail(`again ${i}`, 5 * MIB), i === 0)));
    assert.deepEqual(again.map((r) => final(r).code), [250, 250, 250], JSON.stringify(again.map(final)));
    assert.deepEqual(await checkNothingLost(stack.db, again.map((r) => tokenOf(r.data)!)), []);
  });

  it("keeps room for small mail when large mails fill the budget", async () => {
    const port = stack.gateway.smtpPort;
    const mail = largeMail("fill", 5 * MIB);
    // Eleven 5 MiB transactions in DATA with SIZE= declared, from four addresses: 55 of the 56 MiB that
    // large mails may hold (seven eighths of 64).
    const parked = await Promise.all(Array.from({ length: 11 }, (_, i) => park(port, `127.0.0.${51 + (i % 4)}`, mail)));
    const large = await send(port, "127.0.0.55", mail, true);
    assert.equal(large.data, null, "refused at MAIL FROM");
    assert.equal(large.mail.code, 451);
    assert.match(large.mail.text, /^4\.3\.1 /);
    const small = await send(port, "127.0.0.56", Buffer.from(buildMail({ From: "small@example.com", To: TOTO, Subject: "small" }, "hello\r\n")), true);
    assert.equal(final(small).code, 250, JSON.stringify(final(small)));
    const done = await Promise.all(parked.map((s) => finish(s, mail)));
    assert.deepEqual(done.map((r) => r.code), Array(11).fill(250), JSON.stringify(done));
    assert.deepEqual(await checkNothingLost(stack.db, [...done, small.data].map((r) => tokenOf(r)!)), []);
  });

  it("holds one address to its share: its next SIZE= is refused at MAIL FROM while another address is served", async () => {
    const port = stack.gateway.smtpPort;
    const mail = largeMail("share", 5 * MIB);
    // Three transactions of 127.0.0.31 in DATA with SIZE= declared: 15 of its 16 MiB are held.
    const holding = await Promise.all([0, 1, 2].map(() => park(port, "127.0.0.31", mail)));
    const { session: fourth } = await SmtpSession.open(port, "127.0.0.1", "127.0.0.31");
    await fourth.command("EHLO client.example");
    const refused = await fourth.command(`MAIL FROM:<big@example.com> SIZE=${mail.length}`);
    assert.equal(refused.code, 451);
    assert.match(refused.text, /^4\.3\.1 /);
    const other = await send(port, "127.0.0.32", mail, true);
    assert.equal(final(other).code, 250, JSON.stringify(final(other)));
    // The three finish and are accepted; then the fourth has room.
    const done = await Promise.all(holding.map((s) => finish(s, mail)));
    assert.deepEqual(done.map((r) => r.code), [250, 250, 250], JSON.stringify(done));
    assert.equal((await fourth.command(`MAIL FROM:<big@example.com> SIZE=${mail.length}`)).code, 250);
    assert.equal((await fourth.command(`RCPT TO:<${TOTO}>`)).code, 250);
    const last = await fourth.data(mail);
    fourth.close();
    assert.equal(last.code, 250);
    assert.deepEqual(await checkNothingLost(stack.db, [...done, last, other.data].map((r) => tokenOf(r)!)), []);
  });

  it("gives back the room of a client that leaves in the middle of its data", async () => {
    const port = stack.gateway.smtpPort;
    const mail = largeMail("left", 5 * MIB);
    for (let i = 0; i < 3; i++) { // three times the share of 127.0.0.41, if leaving kept anything
      // The closes of the round before are seen a moment later: park again once they are (a leak never is).
      const gone = await waitFor("room for three parked transactions from 127.0.0.41", async () => {
        const parked: SmtpSession[] = [];
        try {
          for (let k = 0; k < 3; k++) parked.push(await park(port, "127.0.0.41", mail));
          return parked;
        } catch (err) {
          for (const s of parked) s.close();
          throw err;
        }
      }, 30_000, 200);
      for (const s of gone) s.write(mail.subarray(0, 3 * MIB));
      for (const s of gone) s.close();
    }
    // A leak would keep the share full for good; the gateway sees the closes a moment later.
    const later = await waitFor("room for 127.0.0.41 again", async () => {
      const r = await send(port, "127.0.0.41", mail, true);
      return final(r).code === 250 ? r : null;
    }, 30_000);
    assert.deepEqual(await checkNothingLost(stack.db, [tokenOf(later.data)!]), []);
  });
});

describe("parse queue bound", () => {
  let stack: Stack;
  const QUEUE = 3;
  before(async () => {
    stack = await startStack({ gatewayEnv: { PARSE_THREADS: "1", PARSE_QUEUE_MAX: String(QUEUE), PARSE_TIMEOUT_MS: "2000" } });
    await stack.user("toto");
  });
  after(async () => {
    await stack?.close();
  });

  it("answers 451 4.3.1 to mail past the parse queue; the queue never holds more than its bound; every 250 is stored", async () => {
    const port = stack.gateway.smtpPort;
    const bomb = Buffer.concat([Buffer.from(`From: slow@example.com\r\nTo: ${TOTO}\r\n`), bombs.html()]);
    // Each takes the parser its whole time limit: twelve at once, from four addresses.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => send(port, `127.0.0.${21 + (i % 4)}`, bomb, false)));
    const codes = results.map((r) => final(r).code);
    const refused = results.filter((r) => final(r).code === 451);
    assert.ok(refused.length > 0, `some are refused: ${codes.join(",")}`);
    for (const r of refused) assert.match(final(r).text, /^4\.3\.1 /);
    assert.deepEqual(codes.filter((c) => c !== 250 && c !== 451), [], "only 250 or 451");
    const accepted = results.map((r) => tokenOf(r.data)).filter((t): t is string => t !== null);
    assert.ok(accepted.length >= 1 + QUEUE, `one parsing and the queue's worth accepted: ${codes.join(",")}`);
    assert.deepEqual(await checkNothingLost(stack.db, accepted), []);
    // Each refusal was made with the queue at its bound, never past it.
    const waiting = [...stack.gateway.output().matchAll(/"waiting":(\d+)[^\n]*job refused: the queue is full/g)].map((m) => Number(m[1]));
    assert.equal(waiting.length, refused.length);
    assert.ok(waiting.every((n) => n === QUEUE), `queue lengths at refusal: ${waiting.join(",")}`);
    // Once the queue has drained, mail is read again.
    const later = await send(port, "127.0.0.21", Buffer.from(buildMail({ From: "a@example.com", To: TOTO, Subject: "later" }, "hi\r\n")), false);
    assert.equal(final(later).code, 250);
  });
});
