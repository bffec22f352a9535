// A Node load generator for what smtp-source cannot do: a steady offered rate with per-mail timing,
// idle sessions held open, one very large mail. Sessions are test/support's raw SmtpSession.
import { setTimeout as sleep } from "node:timers/promises";
import { buildMail, SmtpSession } from "../test/support/smtp.ts";

/** A mail of about `size` bytes, headers included, with lines of 76 characters. */
export function makeMail(from: string, to: string, size: number, subject = "bench"): Buffer {
  const head = buildMail({ From: `<${from}>`, To: `<${to}>`, Subject: subject, Date: new Date().toUTCString(),
    "Message-ID": `<${Math.random().toString(36).slice(2)}@bench.example>` }, "");
  const line = `${"x".repeat(76)}\r\n`;
  const body = line.repeat(Math.max(1, Math.floor((size - head.length) / line.length)));
  return Buffer.from(head + body, "latin1");
}

/** `token`: the queue id in the `250` (`queued as …`), "" when the server gives none. */
export interface Accepted { token: string; at: number; dataMs: number }

export interface PacedResult {
  accepted: Accepted[];
  refused: number;
  /** mails/s actually started (below the offered rate when every session was busy) */
  achievedPerSec: number;
}

export interface PacedLoad { port: number; rate: number; seconds: number; sessions: number; from: string; to: string; size: number }

/**
 * Offer `rate` mails/s for `seconds` over `sessions` reused connections: mail i starts at t0 + i/rate
 * (or when a session frees up). Records the time of each `250` and how long DATA took to answer.
 */
export async function runPaced(load: PacedLoad): Promise<PacedResult> {
  const idle: SmtpSession[] = [];
  for (let i = 0; i < load.sessions; i++) {
    const { session } = await SmtpSession.open(load.port);
    await session.command("EHLO bench.example");
    idle.push(session);
  }
  const waiting: ((s: SmtpSession) => void)[] = [];
  const take = (): Promise<SmtpSession> => {
    const s = idle.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => waiting.push(resolve));
  };
  const give = (s: SmtpSession) => {
    const next = waiting.shift();
    if (next) next(s);
    else idle.push(s);
  };
  const mail = makeMail(load.from, load.to, load.size);
  const accepted: Accepted[] = [];
  let refused = 0;
  const total = Math.round(load.rate * load.seconds);
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / load.rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const session = await take();
    inFlight.push((async () => {
      try {
        const mailFrom = await session.command(`MAIL FROM:<${load.from}>`);
        const rcpt = await session.command(`RCPT TO:<${load.to}>`);
        if (mailFrom.code !== 250 || rcpt.code !== 250) {
          refused++;
          await session.command("RSET");
          return;
        }
        const start = performance.now();
        const reply = await session.data(mail);
        const at = performance.now();
        // smtp-sink's reply names no queue id: keep the timing, with an empty token.
        const token = /queued as (\S+)/.exec(reply.text)?.[1] ?? "";
        if (reply.code === 250) accepted.push({ token, at, dataMs: at - start });
        else refused++;
      } finally {
        give(session);
      }
    })());
  }
  const started = performance.now() - t0;
  await Promise.all(inFlight);
  for (const s of idle) {
    await s.command("QUIT").catch(() => undefined);
    s.close();
  }
  return { accepted, refused, achievedPerSec: total / (started / 1000) };
}

/** `count` sessions that connect, say EHLO and then do nothing. */
export async function openIdleSessions(port: number, count: number): Promise<{ open: number; close(): void }> {
  const opened = await Promise.allSettled(Array.from({ length: count }, async () => {
    const { session, greeting } = await SmtpSession.open(port);
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code}`);
    await session.command("EHLO idle.example");
    return session;
  }));
  const sessions = opened.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  return { open: sessions.length, close: () => { for (const s of sessions) s.close(); } };
}

/** One whole transaction with a large mail; resolves with the final reply's code. */
export async function sendOne(port: number, from: string, to: string, mail: Buffer): Promise<number> {
  const { session } = await SmtpSession.open(port);
  try {
    await session.command("EHLO big.example");
    await session.command(`MAIL FROM:<${from}>`);
    await session.command(`RCPT TO:<${to}>`);
    const reply = await session.data(mail);
    await session.command("QUIT").catch(() => undefined);
    return reply.code;
  } finally {
    session.close();
  }
}
