// Mail that reads well in a chat client, end to end: corpus specimens sent over SMTP to the
// gateway arrive through real Prosody at a real client exactly as the corpus expects, after being stored
// and read back; the per-mailbox collapse_quotes setting takes effect at the next delivery, no restart.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { sendRaw } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";
/** The corpus is written for a gateway with a web page per mail (PUBLIC_URL): its token is random. */
const PUBLIC_URL = "https://mail.example.org";
const page = (text: string) => text.replace(/\/m\/[A-Za-z0-9_-]{43}$/, "/m/PAGE");
const specimen = (name: string) => readFileSync(new URL(`../corpus/${name}.eml`, import.meta.url));
/** The chat body the corpus expects: what follows the first blank line of the expected file. */
const expected = (name: string) => {
  const text = readFileSync(new URL(`../corpus/${name}.expected.txt`, import.meta.url), "utf8");
  return text.slice(text.indexOf("\n\n") + 2).replace(/\n$/, "");
};

describe("text of inbound mail in the chat client", () => {
  let stack: Stack;
  let toto: ChatClient;
  const send = async (name: string, envelopeFrom: string) => {
    const r = await sendRaw(stack.gateway.smtpPort, envelopeFrom, [`toto@${MAIL_DOMAIN}`], specimen(name));
    assert.equal(r.data?.code, 250, `${name} accepted`);
  };

  before(async () => {
    stack = await startStack({ gatewayEnv: { PUBLIC_URL } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
  });

  it("an HTML-only newsletter arrives as readable text, marked automatic, exactly as the corpus says", async () => {
    await send("03-html-only-newsletter", "bounce-4711@mailer.shop.example");
    const m = await toto.waitForMessage((s) => body(s).startsWith("[automatic] Our November offers"), "the newsletter");
    assert.equal(page(body(m)), expected("03-html-only-newsletter"));
    assert.equal(m.attrs.from, contactJid("news@shop.example"));
    assert.doesNotMatch(body(m), /<|document\.write|open\.gif|font-family/);
  });

  it("quoted history arrives collapsed, and in full once the mailbox turns collapse_quotes off in SQL", async () => {
    await send("11-quoted-gmail", "heidi.k@gmail.example");
    const collapsed = await toto.waitForMessage((s) => body(s).startsWith("Re: Tickets for the concert"), "the reply");
    assert.equal(page(body(collapsed)), expected("11-quoted-gmail"));
    assert.match(body(collapsed), /\[quoted text hidden: 8 lines\]\n\n\[not shown here: quoted text; full mail below\]\n/);

    await stack.db.query("UPDATE mailboxes SET collapse_quotes = false WHERE lower(address) = $1", [`toto@${MAIL_DOMAIN}`]);
    await send("11-quoted-gmail", "heidi.k@gmail.example");
    const full = await toto.waitForMessage((s) => body(s).startsWith("Re: Tickets for the concert") && s !== collapsed, "the reply in full");
    assert.match(body(full), /Heidi\n\nOn Tue, Nov 24, 2026 at 8:01 PM Toto Example <toto@jabber\.example\.org>\nwrote:\n\n> Done, I bought four tickets/);
    assert.match(body(full), /^>>> The concert is on December 12th\. Who's in\?$/m);
    assert.doesNotMatch(body(full), /quoted text hidden/);
    await stack.db.query("UPDATE mailboxes SET collapse_quotes = true WHERE lower(address) = $1", [`toto@${MAIL_DOMAIN}`]);
  });

  it("list mail and a bounce keep their marker through the database; an old Date gives a XEP-0203 delay", async () => {
    await send("29-list-mail", "dev-bounces+toto=jabber.test@lists.example.org");
    const list = await toto.waitForMessage((s) => body(s).startsWith("[list: dev.lists.example.org]"), "the list mail");
    assert.equal(page(body(list)), expected("29-list-mail"));
    const [row] = await stack.db.query<{ automatic: boolean; list_id: string }>(
      "SELECT automatic, list_id FROM messages WHERE message_id = '<list-29@example.com>'");
    assert.deepEqual(row, { automatic: true, list_id: "dev.lists.example.org" });

    await send("21-dsn-multipart-report", "");
    const dsn = await toto.waitForMessage((s) => body(s).startsWith("[automatic] Undelivered Mail"), "the bounce");
    // The corpus sends no files; with a page, the returned message follows as a file linked to it.
    const upToFiles = (t: string) => t.slice(0, t.indexOf("\n\n[attachment"));
    assert.equal(upToFiles(body(dsn)), upToFiles(expected("21-dsn-multipart-report")));
    assert.match(body(dsn), /\[attachment: unnamed \(message\/rfc822, 140 bytes\), sent below\]$/);

    await send("31-old-date", "tt@example.org");
    const old = await toto.waitForMessage((s) => body(s).startsWith("Sent long ago"), "the old mail");
    assert.equal(old.getChild("delay", "urn:xmpp:delay")?.attrs.stamp, "2026-11-14T09:00:00.000Z");
  });
});
