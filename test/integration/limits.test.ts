// Protocol abuse and session limits not covered elsewhere (inbound.test.ts has SIZE, the data
// size, the recipient limit and DATA without RCPT; smtp-tls.test.ts has AUTH/XCLIENT/XFORWARD refused and
// STARTTLS): each with its exact reply code, against the real gateway process.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { sendRaw, SmtpSession, type Reply } from "../support/smtp.ts";
import { bombs } from "../support/bombs.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const MAX_CLIENTS = 6;
const MAX_PER_IP = 3;
const SESSION_TIMEOUT_S = 8;
const RATE_WINDOW_S = 2;
const PROXY = "127.0.0.2";
const TOTO = `toto@${MAIL_DOMAIN}`;
const body = (m: Element) => m.getChildText("body") ?? "";

/** Every reply until the server closes the connection (or `timeoutMs`). */
async function repliesUntilClosed(session: SmtpSession, timeoutMs = 15_000): Promise<Reply[]> {
  const got: Reply[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const reply = await session.read(Math.max(1, deadline - Date.now())).catch(() => null);
    if (!reply) break;
    got.push(reply);
    if (reply.code === 421) break;
  }
  await waitFor("the server to close the connection", () => session.closed, 5_000);
  return got;
}

describe("SMTP protocol abuse and limits", () => {
  let stack: Stack;
  let toto: ChatClient;
  const count = async (where: string, params: unknown[] = []) =>
    (await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages WHERE ${where}`, params))[0]!.n;

  before(async () => {
    stack = await startStack({ gatewayEnv: {
      SMTP_MAX_CLIENTS: String(MAX_CLIENTS), SMTP_MAX_PER_IP: String(MAX_PER_IP),
      SMTP_SESSION_TIMEOUT: String(SESSION_TIMEOUT_S), SMTP_RATE_WINDOW: String(RATE_WINDOW_S), SMTP_MIN_DATA_RATE: "100",
      SMTP_TRUSTED_PROXIES: PROXY, SMTP_MAX_HOPS: "10", PARSE_TIMEOUT_MS: "1500",
    } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
  });

  /** A raw connection from a loopback address of our choosing (a new client to the pregreet test). */
  async function talk(from: string, lines: string[], opts: { early: boolean }): Promise<string> {
    const { connect } = await import("node:net");
    const socket = connect({ port: stack.gateway.smtpPort, host: "127.0.0.1", localAddress: from });
    let got = "";
    socket.setEncoding("latin1").on("data", (d: string) => { got += d; });
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    if (!opts.early) await waitFor("the greeting", () => got.startsWith("220"), 5000);
    for (const line of lines) {
      const seen = got.length;
      socket.write(`${line}\r\n`);
      if (!opts.early) await waitFor(`an answer to ${line}`, () => /\d{3} [^\r\n]*\r\n$/.test(got.slice(seen)), 5000);
    }
    socket.end();
    await closed;
    return got;
  }

  it("answers 421 to a client that talks before the greeting, and closes", async () => {
    const got = await talk("127.0.0.2", ["EHLO early.example"], { early: true });
    assert.match(got, /^421 /, `no greeting, a 421: ${JSON.stringify(got)}`);
    assert.doesNotMatch(got, /^220/m);
  });

  it("greets at once a client that once waited and began a transaction; an early talker is never remembered", async () => {
    // Postfix postscreen: the pregreet test is passed once, then remembered (SMTP_GREET_PASS_SECONDS).
    for (let i = 0; i < 2; i++) {
      assert.match(await talk("127.0.0.3", ["EHLO early.example"], { early: true }), /^421 /, "talking first is not a pass");
    }
    const polite = await talk("127.0.0.3", ["EHLO polite.example", "MAIL FROM:<a@example.com>", "QUIT"], { early: false });
    assert.match(polite, /^250 .*\r\n221 /m, polite);
    const trusted = await talk("127.0.0.3", ["EHLO polite.example", "QUIT"], { early: true });
    assert.match(trusted, /^220 /, `greeted, not refused: ${JSON.stringify(trusted)}`);
    assert.match(trusted, /^250[ -]/m);
    assert.match(await talk("127.0.0.4", ["EHLO other.example"], { early: true }), /^421 /, "another address is still tested");
  });

  it("answers 421 to `GET / HTTP/1.1`, and closes", async () => {
    const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
    assert.equal(greeting.code, 220);
    session.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const got = await repliesUntilClosed(session);
    assert.deepEqual(got.map((r) => r.code), [421]);
  });

  it("answers 421 to a command line over 4 KiB without a newline, and closes before reading it all", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    session.write(`MAIL FROM:<${"a".repeat(4200)}`);
    const got = await repliesUntilClosed(session);
    assert.deepEqual(got.map((r) => r.code), [421]);
    // A 4 KiB line with its newline is still a command (answered, here refused as bad syntax).
    const { session: ok } = await SmtpSession.open(stack.gateway.smtpPort);
    await ok.command("EHLO client.example");
    const long = await ok.command(`NOOP ${"b".repeat(4000)}`);
    assert.equal(long.code, 250);
    ok.close();
  });

  it("answers 500 to unknown commands and 421 at the tenth, then closes", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await session.command(`FOO${i}`)).code);
    assert.deepEqual(codes, [500, 500, 500, 500, 500, 500, 500, 500, 500, 421]);
    await waitFor("the connection closed", () => session.closed, 5_000);
  });

  it("answers 503 to commands out of order, and stores nothing", async () => {
    const before = await count("true");
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    assert.equal((await session.command("MAIL FROM:<a@example.com>")).code, 503, "MAIL before EHLO");
    await session.command("EHLO client.example");
    assert.equal((await session.command(`RCPT TO:<${TOTO}>`)).code, 503, "RCPT before MAIL");
    assert.equal((await session.command("DATA")).code, 503, "DATA before MAIL");
    assert.equal((await session.command("MAIL FROM:<a@example.com>")).code, 250);
    assert.equal((await session.command("MAIL FROM:<b@example.com>")).code, 503, "nested MAIL");
    assert.equal((await session.command("DATA")).code, 503, "DATA with no accepted RCPT");
    session.close();
    assert.equal(await count("true"), before);
  });

  it("answers 501 to NUL or control characters in MAIL FROM and RCPT TO, and stores nothing", async () => {
    const before = await count("true");
    for (const bad of ["a\u0000b@example.com", "a\u0001b@example.com", "a\u001bb@example.com", "a\u007fb@example.com"]) {
      const { session } = await SmtpSession.open(stack.gateway.smtpPort);
      await session.command("EHLO client.example");
      const mail = await session.command(`MAIL FROM:<${bad}>`);
      assert.equal(mail.code, 501, `MAIL FROM with ${JSON.stringify(bad)}: ${mail.code} ${mail.text}`);
      assert.equal((await session.command("MAIL FROM:<ok@example.com>")).code, 250);
      const rcpt = await session.command(`RCPT TO:<to${bad.slice(1, 3)}to@${MAIL_DOMAIN}>`);
      assert.equal(rcpt.code, 501, `RCPT TO with ${JSON.stringify(bad)}: ${rcpt.code} ${rcpt.text}`);
      assert.equal((await session.command("DATA")).code, 503);
      session.close();
    }
    assert.equal(await count("true"), before);
  });

  // RFC 5321 §4.1.1.4: DATA ends only at CRLF.CRLF. Each sequence below is a would-be end of data followed
  // by a second transaction; a server that took it for the end would store the smuggled mail separately.
  for (const [name, sequence] of [["LF.CRLF", "\n.\r\n"], ["LF.LF", "\n.\n"], ["CR.CRLF", "\r.\r\n"], ["CRLF.LF", "\r\n.\n"]] as const) {
    it(`stores one message for the smuggling sequence ${name}; the smuggled commands stay body text`, async () => {
      const subject = `smuggle ${name}`;
      const { session } = await SmtpSession.open(stack.gateway.smtpPort);
      await session.command("EHLO client.example");
      await session.command("MAIL FROM:<a@example.com>");
      assert.equal((await session.command(`RCPT TO:<${TOTO}>`)).code, 250);
      assert.equal((await session.command("DATA")).code, 354);
      session.write(`Subject: ${subject}\r\nFrom: a@example.com\r\n\r\nfirst${sequence}` +
        `MAIL FROM:<evil@example.net>\r\nRCPT TO:<${TOTO}>\r\nDATA\r\nSubject: smuggled ${name}\r\n\r\nevil\r\n.\r\n`);
      const end = await session.read();
      assert.equal(end.code, 250, `${end.code} ${end.text}`);
      // Nothing else was run: the next reply belongs to the next command.
      assert.equal((await session.command("NOOP")).code, 250);
      session.close();
      assert.equal(await count("subject = $1", [subject]), 1);
      assert.equal(await count("subject = $1", [`smuggled ${name}`]), 0);
      const [row] = await stack.db.query<{ raw: Buffer }>("SELECT raw FROM messages WHERE subject = $1", [subject]);
      assert.ok(row!.raw.includes(`first${sequence}MAIL FROM:<evil@example.net>`), "the sequence kept as body bytes");
    });
  }

  it("pins bare LF line ends: kept as they are in the raw mail, read as lines", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    await session.command("EHLO client.example");
    await session.command("MAIL FROM:<lf@example.com>");
    await session.command(`RCPT TO:<${TOTO}>`);
    assert.equal((await session.command("DATA")).code, 354);
    session.write("Subject: bare lf\nFrom: lf@example.com\n\nline one\nline two\n\r\n.\r\n");
    assert.equal((await session.read()).code, 250);
    session.close();
    const [row] = await stack.db.query<{ raw: Buffer; body: string }>("SELECT raw, body FROM messages WHERE subject = 'bare lf'");
    assert.ok(row, "parsed: the subject was read from an LF-only header");
    assert.ok(row.raw.includes("line one\nline two\n"), "bare LF stored unchanged");
    const m = await toto.waitForMessage((s) => body(s).startsWith("bare lf"), "the LF-only mail");
    assert.equal(body(m), "bare lf\n\nline one\nline two");
  });

  it("refuses a mail with too many Received: headers with 554 5.4.0 (mail loop), and stores nothing", async () => {
    const received = (n: number) => Array.from({ length: n }, (_, i) => `Received: from hop${i}.example by hop${i + 1}.example; Tue, 1 Jul 2025 10:00:00 +0000\r\n`).join("");
    const loop = await sendRaw(stack.gateway.smtpPort, "a@example.com", [TOTO], `${received(10)}Subject: looping\r\n\r\nround and round`);
    assert.equal(loop.data!.code, 554);
    assert.match(loop.data!.text, /^5\.4\.0 /);
    assert.equal(await count("subject = 'looping'"), 0);
    const fine = await sendRaw(stack.gateway.smtpPort, "a@example.com", [TOTO], `${received(9)}Subject: nine hops\r\n\r\nfine`);
    assert.equal(fine.data!.code, 250, "one under the limit passes");
  });

  it("refuses connections past SMTP_MAX_PER_IP from one address with 421 4.7.0; other addresses still get in", async () => {
    const open: SmtpSession[] = [];
    try {
      for (let i = 0; i < MAX_PER_IP; i++) {
        const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
        assert.equal(greeting.code, 220);
        open.push(session);
      }
      const { session: extra, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
      assert.equal(greeting.code, 421);
      assert.match(greeting.text, /^4\.7\.0 .*too many connections from 127\.0\.0\.1/);
      await waitFor("the extra connection closed", () => extra.closed, 5_000);
      const { session: other, greeting: welcome } = await SmtpSession.open(stack.gateway.smtpPort, "127.0.0.1", "127.0.0.3");
      assert.equal(welcome.code, 220, "another address is not limited by the first one");
      open.push(other);
    } finally {
      for (const s of open) s.close();
    }
    // The count goes down when sessions end.
    await waitFor("a session admitted again", async () => {
      const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
      session.close();
      return greeting.code === 220;
    }, 10_000, 200);
  });

  it("refuses connections past SMTP_MAX_CLIENTS with 421", async () => {
    await sleep(300);
    const open: SmtpSession[] = [];
    try {
      // The trusted proxy is exempt from the per-address limit: it fills the server.
      for (let i = 0; i < MAX_CLIENTS; i++) {
        const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort, "127.0.0.1", PROXY);
        assert.equal(greeting.code, 220, `connection ${i + 1}`);
        open.push(session);
      }
      const { session: extra, greeting } = await SmtpSession.open(stack.gateway.smtpPort, "127.0.0.1", "127.0.0.4");
      assert.equal(greeting.code, 421);
      assert.match(greeting.text, /Too many connected clients/);
      await waitFor("the extra connection closed", () => extra.closed, 5_000);
    } finally {
      for (const s of open) s.close();
    }
  });

  it("cuts a slowloris client (one byte at a time) with 421 4.4.2 once its rate is under the minimum", async () => {
    await sleep(300);
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    const started = Date.now();
    const trickle = (async () => {
      for (const ch of "EHLO slow.example\r\n") {
        if (session.closed) return;
        session.write(ch);
        await sleep(400);
      }
    })();
    const got = await repliesUntilClosed(session, 20_000);
    await trickle;
    assert.equal(got.at(-1)?.code, 421);
    assert.match(got.at(-1)!.text, /^4\.4\.2 .*minimum data rate/);
    assert.ok(Date.now() - started < SESSION_TIMEOUT_S * 1000, "cut by the rate, before the session deadline");
  });

  it("cuts a client trickling the message body with 421 4.4.2, and stores nothing", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    await session.command("EHLO client.example");
    await session.command("MAIL FROM:<slow@example.com>");
    await session.command(`RCPT TO:<${TOTO}>`);
    assert.equal((await session.command("DATA")).code, 354);
    session.write("Subject: trickled\r\n\r\n");
    const trickle = (async () => {
      while (!session.closed) {
        session.write("x\r\n");
        await sleep(300);
      }
    })();
    const got = await repliesUntilClosed(session, 20_000);
    await trickle;
    assert.equal(got.at(-1)?.code, 421);
    assert.match(got.at(-1)!.text, /^4\.4\.2 /);
    assert.equal(await count("subject = 'trickled'"), 0);
  });

  it("ends any session at the total deadline with 421 4.4.2, even one that keeps sending whole commands", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    const started = Date.now();
    const codes: number[] = [];
    let last: Reply | null = null;
    while (!session.closed && Date.now() - started < 30_000) {
      last = await session.command("NOOP").catch(() => null);
      if (!last) break;
      codes.push(last.code);
      if (last.code === 421) break;
      await sleep(500);
    }
    // The 421 may come unasked while the client sleeps: it is the next reply to read.
    if (last?.code !== 421) last = await session.read(2_000).catch(() => last);
    assert.equal(last?.code, 421, `codes: ${codes.join(" ")}`);
    assert.match(last!.text, /^4\.4\.2 .*timeout exceeded/);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= SESSION_TIMEOUT_S * 1000 - 1500 && elapsed < 25_000, `cut at the deadline: ${elapsed} ms`);
    assert.ok(codes.slice(0, -1).every((c) => c === 250));
  });

  it("lets a trusted proxy (SMTP_TRUSTED_PROXIES) use XCLIENT; the stored peer is the client it names", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort, "127.0.0.1", PROXY);
    try {
      const ehlo = await session.command("EHLO proxy.example");
      assert.match(ehlo.text, /^XCLIENT /m);
      const x = await session.command("XCLIENT ADDR=203.0.113.9 NAME=[UNAVAILABLE] HELO=client.example");
      assert.equal(x.code, 220, `XCLIENT answered by a new greeting: ${x.code} ${x.text}`);
      await session.command("EHLO client.example");
      assert.equal((await session.command("MAIL FROM:<proxied@example.com>")).code, 250);
      assert.equal((await session.command(`RCPT TO:<${TOTO}>`)).code, 250);
      const data = await session.data("Subject: via proxy\r\n\r\nx");
      assert.equal(data.code, 250);
      const [row] = await stack.db.query<{ remote_address: string; raw: Buffer }>("SELECT remote_address, raw FROM messages WHERE subject = 'via proxy'");
      assert.equal(row!.remote_address, "203.0.113.9");
      assert.match(row!.raw.toString("latin1"), /^Received: from client\.example \(\[203\.0\.113\.9\]\)/);
    } finally {
      session.close();
    }
  });

  it("lets a trusted proxy use XFORWARD; the stored peer is the one forwarded", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort, "127.0.0.1", PROXY);
    try {
      const ehlo = await session.command("EHLO proxy.example");
      assert.match(ehlo.text, /^XFORWARD /m);
      assert.equal((await session.command("XFORWARD ADDR=198.51.100.7 HELO=origin.example")).code, 250);
      assert.equal((await session.command("MAIL FROM:<forwarded@example.com>")).code, 250);
      assert.equal((await session.command(`RCPT TO:<${TOTO}>`)).code, 250);
      assert.equal((await session.data("Subject: via xforward\r\n\r\nx")).code, 250);
      const [row] = await stack.db.query<{ remote_address: string }>("SELECT remote_address FROM messages WHERE subject = 'via xforward'");
      assert.equal(row!.remote_address, "198.51.100.7");
    } finally {
      session.close();
    }
  });

  it("refuses XCLIENT and XFORWARD from a peer SMTP_TRUSTED_PROXIES does not name, with no effect", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort, "127.0.0.1", "127.0.0.5");
    try {
      const ehlo = await session.command("EHLO client.example");
      assert.doesNotMatch(ehlo.text, /XCLIENT|XFORWARD/);
      assert.equal((await session.command("XCLIENT ADDR=203.0.113.10")).code, 550);
      assert.equal((await session.command("XFORWARD ADDR=203.0.113.10")).code, 550);
      await session.command("MAIL FROM:<direct@example.com>");
      await session.command(`RCPT TO:<${TOTO}>`);
      assert.equal((await session.data("Subject: not proxied\r\n\r\nx")).code, 250);
      const [row] = await stack.db.query<{ remote_address: string }>("SELECT remote_address FROM messages WHERE subject = 'not proxied'");
      assert.equal(row!.remote_address, "127.0.0.5");
    } finally {
      session.close();
    }
  });

  it("accepts a parse bomb with 250, keeps it raw, tells the user, and other sessions go on meanwhile", async () => {
    const bomb = bombs.html();
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    await session.command("EHLO client.example");
    await session.command("MAIL FROM:<bomber@example.com>");
    await session.command(`RCPT TO:<${TOTO}>`);
    const pending = session.data(bomb);
    // While the bomb is being parsed, another client is served at once.
    await sleep(200);
    const t0 = Date.now();
    const other = await sendRaw(stack.gateway.smtpPort, "b@example.com", [TOTO], "Subject: during the bomb\r\n\r\nx");
    assert.equal(other.data!.code, 250);
    assert.ok(Date.now() - t0 < 5_000, `another session was not stalled (${Date.now() - t0} ms)`);
    const reply = await pending;
    session.close();
    assert.equal(reply.code, 250, `${reply.code} ${reply.text}`);
    const [row] = await stack.db.query<{ raw: Buffer; body: string }>("SELECT raw, body FROM messages WHERE subject = 'html bomb'");
    assert.ok(row, "stored");
    assert.ok(row.raw.length > bomb.length, "the raw mail kept whole, with our Received header");
    assert.match(row.body, /could not be read in full/);
    const m = await toto.waitForMessage((s) => body(s).startsWith("html bomb"), "the notice for the bomb");
    assert.match(body(m), /could not be read in full \(it took longer than 1\.5 s to decode\); the original is kept/);
    assert.equal(m.attrs.from?.split("@")[0], "bomber\\40example.com", "from the envelope sender");
  });

  for (const name of ["headers", "nested", "longLine"] as const) {
    it(`accepts the ${name} bomb and delivers a bounded chat message`, async () => {
      const r = await sendRaw(stack.gateway.smtpPort, `${name}@example.com`, [TOTO], bombs[name]());
      assert.equal(r.data!.code, 250, `${r.data!.code} ${r.data!.text}`);
      // JIDs compare case-insensitively (RFC 7622 nodeprep): the server may lower-case the localpart.
      const m = await toto.waitForMessage((s) => s.attrs.from?.toLowerCase().startsWith(`${name.toLowerCase()}\\40`) ?? false,
        `the ${name} bomb in the chat`);
      assert.ok(Buffer.byteLength(body(m)) <= 16 * 1024, "within CHAT_MAX_BYTES");
    });
  }
});
