// STARTTLS on the inbound listener (README: SMTP_TLS_CERT/SMTP_TLS_KEY), and what the listener never
// offers: AUTH, XCLIENT, XFORWARD. With TLS the certificate served is ours and mail sent by a client that
// insists on TLS arrives; without it STARTTLS is neither advertised nor accepted.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { promisify } from "node:util";
import { createTransport } from "nodemailer";
import { SmtpSession, type Reply } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const run = promisify(execFile);
const body = (m: Element) => m.getChildText("body") ?? "";
/** EHLO keywords (RFC 5321 §4.1.1.1), one per line after the greeting line. */
const keywords = (ehlo: Reply) => ehlo.text.split("\n").slice(1).map((l) => l.split(" ")[0]!.toUpperCase());
// RFC 4616: "\0user\0password", base64.
const AUTH_PLAIN = `AUTH PLAIN ${Buffer.from("\0alice\0secret").toString("base64")}`;

/** A minimal SMTP line reader over any socket, plain or TLS, so one session can be upgraded mid-way. */
class Wire {
  private buffer = "";
  private waiting: ((r: Reply) => void)[] = [];
  private ready: Reply[] = [];
  readonly socket: Socket | TLSSocket;
  constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.buffer += chunk;
      for (let m; (m = /^(\d{3})(?:-.*\r\n(?:\1-.*\r\n)*\1[ ].*|[ ].*|)\r\n/.exec(this.buffer));) {
        this.buffer = this.buffer.slice(m[0].length);
        const reply = { code: Number(m[1]), text: m[0].trimEnd().split("\r\n").map((l) => l.slice(4)).join("\n") };
        const w = this.waiting.shift();
        if (w) w(reply);
        else this.ready.push(reply);
      }
    });
    socket.on("error", () => undefined);
  }
  /** Stop reading: the socket is handed over to TLS and the next bytes are the handshake. */
  detach(): Socket {
    this.socket.removeAllListeners("data");
    this.socket.on("error", () => undefined);
    return this.socket as Socket;
  }
  read(timeoutMs = 10_000): Promise<Reply> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no SMTP reply in time")), timeoutMs);
      this.waiting.push((reply) => { clearTimeout(timer); resolve(reply); });
    });
  }
  command(line: string): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    return this.read();
  }
}

async function openPlain(port: number): Promise<{ wire: Wire; greeting: Reply }> {
  const socket = netConnect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const wire = new Wire(socket);
  return { wire, greeting: await wire.read() };
}

/** RFC 3207 §4: STARTTLS, 220, then the handshake on the same connection; returns the TLS wire.
 * `pipelined` is written in the same packet right after STARTTLS (an injection attempt). */
async function upgrade(wire: Wire, pipelined = ""): Promise<{ wire: Wire; tls: TLSSocket }> {
  wire.socket.write(`STARTTLS\r\n${pipelined}`);
  const reply = await wire.read();
  assert.equal(reply.code, 220, `STARTTLS answered ${reply.code} ${reply.text}`);
  const socket = wire.detach();
  const tls = tlsConnect({ socket, servername: "localhost", rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("TLS handshake did not finish")), 10_000);
    tls.once("secureConnect", () => { clearTimeout(timer); resolve(); });
    tls.once("error", (err) => { clearTimeout(timer); reject(err); });
  });
  return { wire: new Wire(tls), tls };
}

describe("SMTP with STARTTLS configured", () => {
  let stack: Stack;
  let toto: ChatClient;
  let dir: string;
  let certFingerprint: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "passerelle-tls-"));
    const key = join(dir, "k.pem");
    const cert = join(dir, "c.pem");
    await run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
      "-days", "1", "-subj", "/CN=localhost"], { timeout: 20_000 });
    certFingerprint = new X509Certificate(await readFile(cert)).fingerprint256;
    // A short rate window so that the slowloris-inside-TLS case is quick; whole commands are never judged.
    stack = await startStack({ gatewayEnv: { SMTP_TLS_CERT: cert, SMTP_TLS_KEY: key, SMTP_RATE_WINDOW: "2" } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("advertises STARTTLS and no AUTH; after the upgrade serves our certificate and offers neither again", async () => {
    const { wire, greeting } = await openPlain(stack.gateway.smtpPort);
    try {
      assert.equal(greeting.code, 220);
      const ehlo = await wire.command("EHLO client.example");
      assert.equal(ehlo.code, 250);
      assert.ok(keywords(ehlo).includes("STARTTLS"), `EHLO offers STARTTLS:\n${ehlo.text}`);
      assert.ok(!keywords(ehlo).includes("AUTH"), `EHLO offers no AUTH:\n${ehlo.text}`);

      const { wire: secure, tls } = await upgrade(wire);
      assert.equal(tls.getPeerCertificate().fingerprint256, certFingerprint, "the certificate from SMTP_TLS_CERT");
      assert.match(tls.getProtocol() ?? "", /^TLSv1\.[23]$/);
      // RFC 3207 §4.2: the client must forget what it knew and EHLO again.
      const ehlo2 = await secure.command("EHLO client.example");
      assert.equal(ehlo2.code, 250);
      assert.ok(!keywords(ehlo2).includes("STARTTLS"), `no STARTTLS inside TLS:\n${ehlo2.text}`);
      assert.ok(!keywords(ehlo2).includes("AUTH"), `no AUTH inside TLS either:\n${ehlo2.text}`);
      // Still a working transaction over TLS, up to RCPT.
      assert.equal((await secure.command("MAIL FROM:<alice@example.com>")).code, 250);
      assert.equal((await secure.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
      assert.equal((await secure.command("RCPT TO:<nobody@example.com>")).code, 554);
      const auth = await secure.command(AUTH_PLAIN);
      assert.ok(auth.code >= 500 && auth.code < 600, `AUTH PLAIN inside TLS refused, got ${auth.code} ${auth.text}`);
      await secure.command("QUIT").catch(() => undefined);
      tls.destroy();
    } finally {
      wire.socket.destroy();
    }
  });

  it("does not run commands pipelined after STARTTLS in the same packet (RFC 3207 §4.2, CVE-2011-0411)", async () => {
    const { wire } = await openPlain(stack.gateway.smtpPort);
    try {
      await wire.command("EHLO client.example");
      const injected = `MAIL FROM:<evil@example.net>\r\nRCPT TO:<toto@${MAIL_DOMAIN}>\r\n`;
      const { wire: secure, tls } = await upgrade(wire, injected);
      // Nothing answered the injected lines in clear text or inside TLS: the first reply is our EHLO's.
      const ehlo = await secure.command("EHLO client.example");
      assert.equal(ehlo.code, 250, `${ehlo.code} ${ehlo.text}`);
      // No transaction was opened by the injected MAIL: RCPT needs a MAIL first, a MAIL is not nested.
      assert.equal((await secure.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 503);
      assert.equal((await secure.command("MAIL FROM:<alice@example.com>")).code, 250);
      tls.destroy();
    } finally {
      wire.socket.destroy();
    }
  });

  it("cuts a client trickling bytes inside TLS with 421 4.4.2 (the rate is counted on the TLS socket)", async () => {
    const { wire } = await openPlain(stack.gateway.smtpPort);
    try {
      await wire.command("EHLO client.example");
      const { wire: secure, tls } = await upgrade(wire);
      let closed = false;
      tls.once("close", () => { closed = true; });
      const trickle = (async () => {
        for (const ch of "EHLO slow.example\r\n") {
          if (closed) return;
          tls.write(ch);
          await new Promise((r) => setTimeout(r, 400));
        }
      })();
      const reply = await secure.read(15_000);
      await trickle;
      assert.equal(reply.code, 421, `${reply.code} ${reply.text}`);
      assert.match(reply.text, /^4\.4\.2 .*minimum data rate/);
      tls.destroy();
    } finally {
      wire.socket.destroy();
    }
  });

  it("delivers a mail sent by a client that requires TLS to the chat client", async () => {
    const transport = createTransport({ host: "127.0.0.1", port: stack.gateway.smtpPort, secure: false, requireTLS: true,
      tls: { rejectUnauthorized: false } });
    let info;
    try {
      info = await transport.sendMail({ from: "Alice <alice@example.com>", to: `toto@${MAIL_DOMAIN}`,
        subject: "over starttls", text: "sealed in transit" });
    } finally {
      transport.close();
    }
    assert.match(info.response, /^250 2\.0\.0 queued as \S+/);
    assert.deepEqual(info.accepted, [`toto@${MAIL_DOMAIN}`]);
    const m = await toto.waitForMessage((s) => body(s).startsWith("over starttls"), "the mail sent over STARTTLS");
    assert.equal(m.attrs.from, contactJid("alice@example.com"));
    assert.match(body(m), /sealed in transit/);
    const token = /queued as (\S+)/.exec(info.response)![1];
    const rows = await stack.db.query("SELECT subject FROM messages WHERE token = $1", [token]);
    assert.deepEqual(rows, [{ subject: "over starttls" }]);
  });

  it("refuses AUTH PLAIN, XCLIENT and XFORWARD on the plain listener, and XCLIENT changes nothing", async () => {
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    try {
      const ehlo = await session.command("EHLO client.example");
      for (const ext of ["AUTH", "XCLIENT", "XFORWARD"]) assert.ok(!keywords(ehlo).includes(ext), `no ${ext} in EHLO`);
      const auth = await session.command(AUTH_PLAIN);
      assert.ok(auth.code >= 500 && auth.code < 600, `AUTH PLAIN refused, got ${auth.code} ${auth.text}`);
      const xclient = await session.command("XCLIENT ADDR=203.0.113.9 NAME=spoofed.example HELO=spoofed.example");
      assert.ok(xclient.code >= 500 && xclient.code < 600, `XCLIENT refused, got ${xclient.code} ${xclient.text}`);
      const xforward = await session.command("XFORWARD ADDR=203.0.113.9");
      assert.ok(xforward.code >= 500 && xforward.code < 600, `XFORWARD refused, got ${xforward.code} ${xforward.text}`);
      // The session goes on as it was: the stored peer is the real one, not the XCLIENT address.
      assert.equal((await session.command("MAIL FROM:<alice@example.com>")).code, 250);
      assert.equal((await session.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
      const data = await session.data("Subject: after xclient\r\nFrom: alice@example.com\r\n\r\nx");
      assert.equal(data.code, 250, data.text);
      const token = /queued as (\S+)/.exec(data.text)![1];
      const [row] = await stack.db.query<{ remote_address: string; helo: string }>(
        "SELECT remote_address, helo FROM messages WHERE token = $1", [token]);
      assert.ok(row, "the message row");
      assert.match(row.remote_address, /127\.0\.0\.1$/);
      assert.equal(row.helo, "client.example");
    } finally {
      session.close();
    }
  });
});

describe("SMTP without SMTP_TLS_CERT/SMTP_TLS_KEY", () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack();
    await stack.user("toto", { connect: false });
  });
  after(async () => {
    await stack?.close();
  });

  it("does not advertise STARTTLS and answers it with a 5xx; AUTH PLAIN and XCLIENT are refused too", async () => {
    const { session, greeting } = await SmtpSession.open(stack.gateway.smtpPort);
    try {
      assert.equal(greeting.code, 220);
      const ehlo = await session.command("EHLO client.example");
      assert.equal(ehlo.code, 250);
      assert.ok(!keywords(ehlo).includes("STARTTLS"), `no STARTTLS without a certificate:\n${ehlo.text}`);
      assert.ok(!keywords(ehlo).includes("AUTH"), `no AUTH:\n${ehlo.text}`);
      const starttls = await session.command("STARTTLS");
      assert.ok(starttls.code >= 500 && starttls.code < 600, `STARTTLS refused, got ${starttls.code} ${starttls.text}`);
      const auth = await session.command(AUTH_PLAIN);
      assert.ok(auth.code >= 500 && auth.code < 600, `AUTH PLAIN refused, got ${auth.code} ${auth.text}`);
      const xclient = await session.command("XCLIENT ADDR=203.0.113.9");
      assert.ok(xclient.code >= 500 && xclient.code < 600, `XCLIENT refused, got ${xclient.code} ${xclient.text}`);
      // The refused STARTTLS left the session usable in plain text.
      assert.equal((await session.command("MAIL FROM:<alice@example.com>")).code, 250);
      assert.equal((await session.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
      assert.equal((await session.command("RSET")).code, 250);
    } finally {
      session.close();
    }
  });

  it("a client that requires TLS refuses to send, and nothing is stored", async () => {
    const transport = createTransport({ host: "127.0.0.1", port: stack.gateway.smtpPort, secure: false, requireTLS: true,
      tls: { rejectUnauthorized: false } });
    try {
      await assert.rejects(transport.sendMail({ from: "alice@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "must not go in clear", text: "x" }),
        /STARTTLS|TLS/i);
    } finally {
      transport.close();
    }
    const rows = await stack.db.query("SELECT 1 FROM messages WHERE subject = 'must not go in clear'");
    assert.equal(rows.length, 0);
  });
});
