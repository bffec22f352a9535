// What src/smtp/nodemailer-adapter.ts relies on in nodemailer, checked on the installed library with a
// real pool and a real SMTP server on loopback: this fails when an upgrade reads more of a message.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createTransport } from "nodemailer";
import { SMTPServer } from "smtp-server";
import { installedNodemailerVersion, NODEMAILER_VERSION, preparedMessage, sendPrepared } from "../../../src/smtp/nodemailer-adapter.ts";

interface Received { from: string; to: string[]; data: Buffer }

/** An SMTP server that keeps each envelope and the bytes after DATA. */
async function sink() {
  const received: Received[] = [];
  const server = new SMTPServer({ logger: false, disableReverseLookup: true, authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"], hideSTARTTLS: true,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address), data: Buffer.concat(chunks) });
        callback(null, "queued as T1");
      });
    } });
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  const port = (server.server.address() as AddressInfo).port;
  return { received, url: `smtp://127.0.0.1:${port}`, close: () => server.close() };
}

const pool = (url: string) => createTransport({ url, pool: true, maxConnections: 1 } as object);

// Dots at line starts, a bare LF and a bare CR, 8-bit text: all must arrive as written (dot-stuffing undone).
const RAW = Buffer.from("From: a@example.org\r\nTo: b@example.com\r\nSubject: t\r\n\r\n.one\r\n..two\r\nbare\nlf and bare\rcr é\r\n", "utf8");
const ENVELOPE = { from: "bounce+x@jabber.example.org", to: ["alice@example.com"] };

describe("nodemailer adapter", () => {
  it("is written for the installed nodemailer, pinned exactly", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      dependencies: Record<string, string> };
    assert.equal(pkg.dependencies.nodemailer, NODEMAILER_VERSION);
    assert.equal(installedNodemailerVersion, NODEMAILER_VERSION);
  });

  it("the pool reads nothing of the prepared message but what it provides", async () => {
    const s = await sink();
    const transport = pool(s.url);
    const read = new Set<string>();
    const watch = <T extends object>(name: string, target: T): T => new Proxy(target, {
      get(t, key, receiver) {
        if (typeof key === "string") read.add(`${name}.${key}`);
        return Reflect.get(t, key, receiver);
      },
    });
    const prepared = preparedMessage(ENVELOPE, RAW) as unknown as { data: object; message: object };
    const mail = watch("mail", { data: watch("data", prepared.data), message: watch("message", prepared.message) });
    try {
      const info = await new Promise<{ response?: string; envelope?: unknown }>((resolve, reject) =>
        transport.transporter.send(mail as never, (err, i) => (err ? reject(err) : resolve(i as { response?: string }))));
      assert.match(String(info.response), /^250 .*queued as T1/);
      assert.deepEqual(info.envelope, ENVELOPE);
    } finally {
      transport.close();
      s.close();
    }
    const provided = new Set(["mail.data", "mail.message", "message.getEnvelope", "message.messageId", "message.getHeader",
      "message.createReadStream"]);
    // Options of a message that this one leaves unset: read and found absent.
    const unset = new Set(["data.dsn", "data.requireTLSExtensionEnabled", "data.signal"]);
    for (const key of read) assert.ok(provided.has(key) || unset.has(key), `nodemailer now reads ${key}`);
    assert.ok(read.has("message.createReadStream") && read.has("message.getEnvelope"), JSON.stringify([...read]));
    assert.deepEqual(s.received.map((r) => ({ from: r.from, to: r.to })), [ENVELOPE]);
    // Line ends arrive as CRLF (the transfer's own); every byte else as written, dot-stuffing undone.
    assert.equal(s.received[0]!.data.toString("latin1"), RAW.toString("latin1").replace(/\r\n|\r|\n/g, "\r\n"));
  });

  it("sends what sendMail({ envelope, raw }), the public path, sends", async () => {
    const s = await sink();
    const transport = pool(s.url);
    try {
      await sendPrepared(transport, ENVELOPE, RAW);
      await transport.sendMail({ envelope: ENVELOPE, raw: RAW });
    } finally {
      transport.close();
      s.close();
    }
    assert.equal(s.received.length, 2);
    assert.deepEqual(s.received[0], s.received[1]);
  });
});
