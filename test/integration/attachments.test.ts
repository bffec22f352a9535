// Attachments both ways, through Prosody's own XEP-0363 service (mod_http_file_share).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendMail } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";
const OOB = "jabber:x:oob";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

describe("attachments through the XMPP server's upload service", () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  const photo = randomBytes(5000);

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, XMPP_UPLOAD_SERVICE: "upload.localhost",
      FETCH_HOSTS: "127.0.0.1", ATTACHMENT_MAX_BYTES: String(64 * 1024) } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  it("inbound: each allowed attachment follows as a file message with an OOB URL; the rest is listed with the reason", async () => {
    await sendMail(stack.gateway.smtpPort, {
      from: "alice@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "photos", text: "see attached",
      attachments: [
        { filename: "photo.png", content: photo, contentType: "image/png" },
        { filename: "setup.exe", content: Buffer.from("MZ"), contentType: "application/octet-stream" },
        { filename: "huge.bin", content: Buffer.alloc(100 * 1024), contentType: "application/octet-stream" },
      ],
    });
    const text = await toto.waitForMessage((m) => body(m).startsWith("photos"), "the text message");
    assert.match(body(text), /\[attachment: photo\.png \(image\/png, [\d.]+ KiB\), sent below\]/);
    assert.match(body(text), /\[attachment not forwarded: setup\.exe \([^)]*\): a program: not forwarded\]/);
    assert.match(body(text), /\[attachment not forwarded: huge\.bin \([^)]*\): larger than 64\.0 KiB\]/);
    const file = await toto.waitForMessage((m) => Boolean(m.getChild("x", OOB)), "the file message");
    const url = file.getChild("x", OOB)!.getChildText("url")!;
    assert.equal(body(file), url);
    assert.equal(file.attrs.from, text.attrs.from);
    assert.equal(file.attrs.id, `${text.attrs.id}.f0`);
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${stack.server.upload!.httpPort}/`));
    const fetched = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.ok(fetched.equals(photo), "the file is the attachment, byte for byte");
    assert.equal(toto.messages.filter((m) => m.getChild("x", OOB)).length, 1, "only the allowed one is sent");
    const [row] = await stack.db.query<{ uploads: Record<string, string> }>("SELECT uploads FROM messages WHERE subject = 'photos'");
    assert.deepEqual(row?.uploads, { 0: url });
  });

  it("outbound: a file the user uploaded is mailed as an attachment", async () => {
    // The user's client uploads through the same service (XEP-0363), then sends the GET URL with OOB.
    const content = Buffer.from("%PDF-1.4 test document\n");
    const slot = (await toto.request(xml("iq", { type: "get", to: "upload.localhost" },
      xml("request", { xmlns: "urn:xmpp:http:upload:0", filename: "report.pdf", size: String(content.length), "content-type": "application/pdf" }))))
      .getChild("slot", "urn:xmpp:http:upload:0")!;
    const headers = Object.fromEntries(slot.getChild("put")!.getChildren("header").map((h) => [String(h.attrs.name), h.getText()]));
    const put = await fetch(slot.getChild("put")!.attrs.url!, { method: "PUT", body: content, headers: { ...headers, "content-type": "application/pdf" } });
    assert.ok(put.ok, `PUT ${put.status}`);
    const get = slot.getChild("get")!.attrs.url!;
    await toto.send(xml("message", { type: "chat", to: contactJid("bob@example.com"), id: "f1" },
      xml("body", {}, get), xml("x", { xmlns: OOB }, xml("url", {}, get))));
    const sent = await waitFor("the mail at the relay", () => relay.relayed.find((r) => r.to.includes("bob@example.com")));
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.attachments.length, 1);
    assert.equal(mail.attachments[0]!.filename, "report.pdf");
    assert.equal(mail.attachments[0]!.contentType, "application/pdf");
    assert.ok(mail.attachments[0]!.content.equals(content));
    assert.equal(mail.subject, "report.pdf");
  });

  it("outbound: encrypted uploads (aesgcm://) and files from other hosts are refused, nothing is mailed", async () => {
    await toto.send(xml("message", { type: "chat", to: contactJid("carol@example.com"), id: "e1" },
      xml("body", {}, "aesgcm://127.0.0.1/file.jpg#abcdef"), xml("x", { xmlns: OOB }, xml("url", {}, "aesgcm://127.0.0.1/file.jpg#abcdef"))));
    const enc = await toto.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "e1", "the refusal");
    assert.ok(enc.getChild("error")?.getChild("not-acceptable", STANZAS));
    assert.match(enc.getChild("error")?.getChildText("text", STANZAS) ?? "", /encrypted/i);
    await toto.send(xml("message", { type: "chat", to: contactJid("carol@example.com"), id: "e2" },
      xml("body", {}, "http://169.254.169.254/latest/meta-data"), xml("x", { xmlns: OOB }, xml("url", {}, "http://169.254.169.254/latest/meta-data"))));
    const other = await toto.waitForMessage((m) => m.attrs.type === "error" && m.attrs.id === "e2", "the refusal");
    assert.match(other.getChild("error")?.getChildText("text", STANZAS) ?? "", /not fetch/i);
    assert.ok(!relay.relayed.some((r) => r.to.includes("carol@example.com")));
  });
});
