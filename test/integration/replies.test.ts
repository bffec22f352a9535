// Mail that reads like a conversation: a reply keeps the answered mail's Cc with names (RFC 5322 §3.6.3),
// a mail the chat shows less of ends with its page's URL on a line of its own, and "show headers" shows
// only the fields a person reads. Real Prosody, a real @xmpp/client user, the real test relay.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser, type AddressObject } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { sendRaw } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const PUBLIC_URL = "https://mail.example.test";
const NS = { commands: "http://jabber.org/protocol/commands", data: "jabber:x:data" };
const body = (m: Element) => m.getChildText("body") ?? "";
const names = (field: AddressObject | AddressObject[] | undefined) =>
  [field ?? []].flat().flatMap((f) => f.value).map((v) => `${v.name} <${v.address}>`);

describe("replies and messages like a mail client's (prosody)", () => {
  let stack: Stack;
  let toto: ChatClient;
  let relay: RelaySink;

  const deliver = async (subject: string, headers: string[], text: string) => {
    const raw = [...headers, `Subject: ${subject}`, "Date: Tue, 01 Dec 2026 20:05:00 +0000", "", text, ""].join("\r\n");
    assert.equal((await sendRaw(stack.gateway.smtpPort, "sender@example.net", [`toto@${MAIL_DOMAIN}`], raw)).data?.code, 250);
    return toto.waitForMessage((m) => body(m).includes(subject), `the chat message "${subject}"`);
  };
  const tokenOf = async (subject: string) =>
    (await stack.db.query<{ web_token: string }>("SELECT web_token FROM messages WHERE subject = $1", [subject]))[0]!.web_token;

  before(async () => {
    relay = await startRelaySink();
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, RELAY_RETRY_SCHEDULE: "1",
      SEND_LIMIT_PER_MINUTE: "0", PUBLIC_URL } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
  });

  it("a reply goes to the sender and copies the others (Cc) with their names; From carries the user's name", async () => {
    // The name for From: set by the user in the settings command (no nick in the chat message).
    const iq = (child: Element) => xml("iq", { type: "set", to: COMPONENT_DOMAIN }, child);
    const first = (await toto.request(iq(xml("command", { xmlns: NS.commands, node: "settings", action: "execute" })))).getChild("command", NS.commands)!;
    const done = (await toto.request(iq(xml("command", { xmlns: NS.commands, node: "settings", sessionid: first.attrs.sessionid, action: "complete" },
      xml("x", { xmlns: NS.data, type: "submit" }, xml("field", { var: "display_name" }, xml("value", {}, "Toto Dupont"))))))).getChild("command", NS.commands)!;
    assert.equal(done.getChildText("note"), "Saved.");

    await deliver("Dinner on Saturday", ['From: "Dave Moreau" <dave@example.net>', `To: "Toto" <toto@${MAIL_DOMAIN}>, "Ève Martin" <eve@example.net>`,
      'Cc: "Frank Weber" <frank@example.de>, dave@example.net', "Message-ID: <dinner-1@example.net>"], "Who is coming?");
    await toto.send(xml("message", { type: "chat", to: contactJid("dave@example.net"), id: "reply-1" }, xml("body", {}, "Count me in.")));

    const sent = await waitFor("the reply to all three at the relay", () => {
      const mine = relay.relayed.filter((r) => r.raw.toString("latin1").includes("dinner-1@example.net"));
      return mine.length === 3 ? mine : undefined;
    });
    assert.deepEqual(sent.flatMap((r) => r.to).sort(), ["dave@example.net", "eve@example.net", "frank@example.de"], "one envelope per recipient");
    assert.equal(new Set(sent.map((r) => r.from)).size, 3, "each copy has a bounce address of its own");
    assert.ok(sent.every((r) => r.raw.equals(sent[0]!.raw)), "the same bytes to each");
    const mail = await simpleParser(sent[0]!.raw);
    assert.deepEqual(names(mail.from), [`Toto Dupont <toto@${MAIL_DOMAIN}>`]);
    assert.deepEqual(names(mail.to), ["Dave Moreau <dave@example.net>"]);
    assert.deepEqual(names(mail.cc), ["Ève Martin <eve@example.net>", "Frank Weber <frank@example.de>"], "the user is not copied, Dave once");
    assert.equal(mail.inReplyTo, "<dinner-1@example.net>");
    const rows = await stack.db.query<{ recipient: string; origin_stanza_id: string | null }>(`SELECT recipient, origin_stanza_id FROM deliveries
      WHERE direction = 'outbound' AND message_id = (SELECT message_id FROM deliveries WHERE origin_stanza_id = 'reply-1') ORDER BY id`);
    assert.deepEqual(rows.map((r) => [r.recipient, r.origin_stanza_id]),
      [["dave@example.net", "reply-1"], ["eve@example.net", null], ["frank@example.de", null]], "one delivery per recipient");
  });

  it("a XEP-0461 reply to an older mail copies that mail's others, not the latest one's", async () => {
    const older = toto.messages.find((m) => body(m).startsWith("Dinner on Saturday"))!;
    await deliver("Another topic", ['From: "Dave Moreau" <dave@example.net>', `To: toto@${MAIL_DOMAIN}`, "Cc: grace@example.org",
      "Message-ID: <other-1@example.net>"], "Unrelated.");
    await toto.send(xml("message", { type: "chat", to: contactJid("dave@example.net"), id: "reply-2" },
      xml("reply", { xmlns: "urn:xmpp:reply:0", to: contactJid("dave@example.net"), id: older.attrs.id }), xml("body", {}, "And I bring wine.")));
    const sent = await waitFor("the reply to the older mail", () => relay.relayed.find((r) => r.to.includes("dave@example.net")
      && r.raw.toString("latin1").includes("bring wine")));
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.inReplyTo, "<dinner-1@example.net>");
    assert.deepEqual(names(mail.cc), ["Ève Martin <eve@example.net>", "Frank Weber <frank@example.de>"]);
  });

  it("a copy the relay refuses fails alone: the user hears it from that recipient's contact, the others leave", async () => {
    relay.refuseOnly.set("ivan@example.org", { code: 550, text: "5.1.1 no mailbox ivan here" });
    try {
      await deliver("Board meeting", ['From: "Heidi" <heidi@example.com>', `To: toto@${MAIL_DOMAIN}`, "Cc: ivan@example.org, judy@example.com",
        "Message-ID: <board-1@example.com>"], "Agenda attached soon.");
      await toto.send(xml("message", { type: "chat", to: contactJid("heidi@example.com"), id: "reply-3" }, xml("body", {}, "Noted.")));
      const notice = await toto.waitForMessage((m) => m.attrs.type === "chat" && /Your mail to ivan@example\.org was not sent: .*no mailbox ivan here/.test(body(m)),
        "the notice for the refused copy");
      assert.equal(notice.attrs.from, contactJid("ivan@example.org"));
      await waitFor("the two other copies at the relay", () => ["heidi@example.com", "judy@example.com"].every((a) =>
        relay.relayed.some((r) => r.to.includes(a) && r.raw.toString("latin1").includes("board-1@example.com"))) || undefined);
      const outcomes = async () => stack.db.query<{ recipient: string; status: string; origin_stanza_id: string | null }>(`
        SELECT recipient, status, origin_stanza_id FROM deliveries WHERE direction = 'outbound' AND message_id =
          (SELECT message_id FROM deliveries WHERE origin_stanza_id = 'reply-3') ORDER BY id`);
      assert.deepEqual(await waitFor("the outcomes", async () => {
        const r = await outcomes();
        return r.every((d) => d.status === "delivered" || d.status === "failed") ? r : undefined;
      }), [{ recipient: "heidi@example.com", status: "delivered", origin_stanza_id: "reply-3" },
        { recipient: "ivan@example.org", status: "failed", origin_stanza_id: null },
        { recipient: "judy@example.com", status: "delivered", origin_stanza_id: null }]);
      assert.ok(!toto.messages.some((m) => m.attrs.type === "error" && m.attrs.id === "reply-3"), "the message reached its contact: no error on it");
    } finally {
      relay.refuseOnly.delete("ivan@example.org");
    }
  });

  it("a newsletter's HTML mail ends with the link to its page, alone on the last line; a plain mail has none", async () => {
    const html = `<html><body><table role="presentation">${Array.from({ length: 60 }, (_, i) =>
      `<tr><td style="font-family:Georgia;color:#333"><h2>Offer ${i}</h2><p><b>Big</b> savings, <a href="https://shop.example/${i}">here</a>.</p></td></tr>`).join("")}</table></body></html>`;
    const message = await deliver("Our December offers", ['From: "Shop" <news@shop.example>', `To: toto@${MAIL_DOMAIN}`, "MIME-Version: 1.0",
      'Content-Type: multipart/alternative; boundary="b1"'], ["--b1", "Content-Type: text/plain; charset=utf-8", "",
      "Our offers this month: see the web version.", "--b1", "Content-Type: text/html; charset=utf-8", "", html, "--b1--"].join("\r\n"));
    const url = `${PUBLIC_URL}/m/${await tokenOf("Our December offers")}`;
    const lines = body(message).split("\n");
    assert.equal(lines.at(-1), url, "the URL alone on the last line");
    assert.equal(lines.at(-2), "[not shown here: formatting; full mail below]");
    const page = await fetch(`http://127.0.0.1:${stack.gateway.httpPort}${new URL(url).pathname}`);
    assert.equal(page.status, 200);
    await page.arrayBuffer();

    const plain = await deliver("Just a note", ['From: "Alice" <alice@example.com>', `To: toto@${MAIL_DOMAIN}`], "See you tomorrow.");
    assert.equal(body(plain), "Just a note\n\nSee you tomorrow.", "shown whole: no link");
  });

  it("show headers prints only From, To, Cc, Date and Subject", async () => {
    await stack.db.query("UPDATE mailboxes SET show_headers = true WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    try {
      const message = await deliver("Re: Bonjour depuis Gajim", ['From: "Dave Moreau" <dave@example.net>', `To: toto@${MAIL_DOMAIN}`,
        "Cc: eve@example.net", "Message-ID: <dave-reply-1@example.net>", "In-Reply-To: <x@jabber.test>", "References: <x@jabber.test>",
        "Content-Type: text/plain; charset=utf-8"], "Salut Toto, bien recu !");
      assert.equal(body(message), `From: "Dave Moreau" <dave@example.net>\nTo: toto@${MAIL_DOMAIN}\nCc: eve@example.net\n`
        + "Date: Tue, 01 Dec 2026 20:05:00 +0000\nSubject: Re: Bonjour depuis Gajim\n\nRe: Bonjour depuis Gajim\n\nSalut Toto, bien recu !");
      assert.doesNotMatch(body(message), /^(Received|Message-ID|Content-Type|In-Reply-To|References):/im);
    } finally {
      await stack.db.query("UPDATE mailboxes SET show_headers = false WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    }
  });
});
