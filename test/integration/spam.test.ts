// Spam and unwanted mail through a real rspamd (test/support/rspamd.ts): its action decides at DATA,
// the verdict is stored and shown, held mail is released by its user, and a user's blocks are refused
// at RCPT for their own mailbox only. Real Prosody, real clients, real PostgreSQL and Redis.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { prepareRspamd, type Rspamd } from "../support/rspamd.ts";
import { buildMail, sendRaw } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const NS = { commands: "http://jabber.org/protocol/commands", items: "http://jabber.org/protocol/disco#items", data: "jabber:x:data" };
const GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
/** rspamd's test pattern for `add header` (options enable_test_patterns) */
const GTUBE_ADD_HEADER = "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
const PUBLIC_URL = "https://mail.example.test";
const body = (m: Element) => m.getChildText("body") ?? "";
const mail = (from: string, to: string, subject: string, text: string) => buildMail({ From: from, To: to, Subject: subject,
  "Message-ID": `<${subject.replace(/\W/g, "")}.${Date.now()}@example.com>`, Date: new Date().toUTCString() }, `${text}\r\n`);
const CLEAN = "Hello, see you tomorrow at the meeting about the garden budget; bring the plans and the seeds.";

describe("spam and unwanted mail (rspamd)", () => {
  let rspamd: Rspamd;
  let stack: Stack;
  let toto: ChatClient;
  let titi: ChatClient;
  const send = (from: string, to: string, subject: string, text: string) =>
    sendRaw(stack.gateway.smtpPort, from, [to], mail(from, to, subject, text));
  const command = async (client: ChatClient, to: string, node: string, form?: Record<string, string>) => {
    const first = (await client.request(xml("iq", { type: "set", to }, xml("command", { xmlns: NS.commands, node, action: "execute" }))))
      .getChild("command", NS.commands)!;
    if (!form) return first;
    return (await client.request(xml("iq", { type: "set", to }, xml("command", { xmlns: NS.commands, node, sessionid: first.attrs.sessionid,
      action: "complete" }, xml("x", { xmlns: NS.data, type: "submit" },
      ...Object.entries(form).map(([v, value]) => xml("field", { var: v }, xml("value", {}, value)))))))).getChild("command", NS.commands)!;
  };
  const note = (c: Element) => c.getChildText("note") ?? "";

  before(async () => {
    rspamd = await prepareRspamd();
    [stack] = await Promise.all([startStack({ gatewayEnv: { RSPAMD_URL: rspamd.url, RSPAMD_CONTROLLER_URL: rspamd.controllerUrl,
      RSPAMD_TIMEOUT_MS: "3000", PUBLIC_URL } }), rspamd.start()]);
    toto = (await stack.user("toto"))!;
    titi = (await stack.user("titi"))!;
  });
  after(async () => {
    await stack?.close();
    await rspamd?.destroy();
  });

  it("GTUBE is refused 550 5.7.1 at DATA; nothing is stored", async () => {
    const r = await send("spammer@example.com", `toto@${MAIL_DOMAIN}`, "gtube one", GTUBE);
    assert.equal(r.data?.code, 550, r.data?.text);
    assert.match(r.data?.text ?? "", /^5\.7\.1 /);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'gtube one'")).length, 0);
  });

  it("`soft reject` is answered 451 4.7.1 at DATA; nothing is stored", async () => {
    const r = await send("maybe@example.com", `toto@${MAIL_DOMAIN}`, "please greylist me", CLEAN);
    assert.equal(r.data?.code, 451, r.data?.text);
    assert.match(r.data?.text ?? "", /^4\.7\.1 /);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'please greylist me'")).length, 0);
  });

  it("a clean mail is delivered unmarked, its verdict stored and shown on the web page", async () => {
    const r = await send("alice@example.com", `toto@${MAIL_DOMAIN}`, "clean one", CLEAN);
    assert.equal(r.data?.code, 250, r.data?.text);
    const m = await toto.waitForMessage((s) => body(s).includes("clean one"), "the clean mail");
    assert.ok(body(m).startsWith("clean one"), body(m));
    const [row] = await stack.db.query<{ spam: { action: string; score: number; symbols: string[] }; web_token: string }>(
      "SELECT spam, web_token FROM messages WHERE subject = 'clean one'");
    assert.equal(row!.spam.action, "no action");
    assert.equal(typeof row!.spam.score, "number");
    assert.ok(row!.spam.symbols.length > 0);
    const page = await (await fetch(`http://127.0.0.1:${stack.gateway.httpPort}/m/${row!.web_token}`)).text();
    assert.match(page, /<dt>Spam filter<\/dt><dd>no action, score -?[\d.]+ \/ [\d.]+: /);
  });

  it("`add header` is delivered marked as spam; with the hold setting it is held, listed and released", async () => {
    await send("promo@example.com", `toto@${MAIL_DOMAIN}`, "marked one", GTUBE_ADD_HEADER);
    const m = await toto.waitForMessage((s) => body(s).includes("marked one"), "the marked mail");
    assert.ok(body(m).startsWith("[spam 6] marked one"), body(m));

    const saved = await command(toto, COMPONENT_DOMAIN, "settings", { hold_spam: "1" });
    assert.equal(saved.attrs.status, "completed");
    const r = await send("promo@example.com", `toto@${MAIL_DOMAIN}`, "held one", GTUBE_ADD_HEADER);
    assert.equal(r.data?.code, 250);
    const [held] = await stack.db.query<{ id: number; status: string }>(
      "SELECT d.id, d.status FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.subject = 'held one'");
    assert.equal(held!.status, "held");
    const status = note(await command(toto, COMPONENT_DOMAIN, "status"));
    assert.match(status, /Held as spam: 1 /);
    assert.match(status, new RegExp(`${held!.id}: .* from promo@example\\.com: held one \\[add header, score 6`));
    // Another user cannot release it.
    assert.match(note(await command(titi, COMPONENT_DOMAIN, "spam-held", { release: String(held!.id) })), /No held mail/);
    assert.ok(!toto.messages.some((s) => body(s).includes("held one")));
    assert.match(note(await command(toto, COMPONENT_DOMAIN, "spam-held", { release: String(held!.id) })), /^Released/);
    const released = await toto.waitForMessage((s) => body(s).includes("held one"), "the released mail");
    assert.ok(body(released).startsWith("[spam 6] held one"), body(released));
    await command(toto, COMPONENT_DOMAIN, "settings", { hold_spam: "0" });
  });

  it("a blocked sender is refused 550 5.7.1 at RCPT for that mailbox only; others pass; unblock lets it in", async () => {
    await send("bob@example.com", `toto@${MAIL_DOMAIN}`, "bob first", CLEAN);
    await toto.waitForMessage((s) => body(s).includes("bob first"), "bob's first mail");
    const offered = (await toto.request(xml("iq", { type: "get", to: contactJid("bob@example.com") }, xml("query", { xmlns: NS.items, node: NS.commands }))))
      .getChild("query", NS.items)!.getChildren("item").map((i) => i.attrs.node as string);
    assert.deepEqual(offered.sort(), ["spam-block", "spam-report", "spam-unblock"]);

    assert.match(note(await command(toto, contactJid("bob@example.com"), "spam-block")), /^Blocked: mail from bob@example\.com /);
    const refused = await send("bob@example.com", `toto@${MAIL_DOMAIN}`, "bob blocked", CLEAN);
    assert.equal(refused.rcpt[0]!.code, 550);
    assert.match(refused.rcpt[0]!.text, /^5\.7\.1 /);
    assert.equal(refused.data, null);
    // The same sender to another mailbox, and another sender to this one, still pass.
    assert.equal((await send("bob@example.com", `titi@${MAIL_DOMAIN}`, "bob to titi", CLEAN)).data?.code, 250);
    assert.equal((await send("carol@example.com", `toto@${MAIL_DOMAIN}`, "carol passes", CLEAN)).data?.code, 250);
    await titi.waitForMessage((s) => body(s).includes("bob to titi"), "bob's mail to titi");

    // titi blocking carol blocks her for titi's mailbox, never toto's.
    assert.match(note(await command(titi, contactJid("carol@example.com"), "spam-block")), /to titi@jabber\.test /);
    assert.equal((await send("carol@example.com", `toto@${MAIL_DOMAIN}`, "carol still passes", CLEAN)).data?.code, 250);
    assert.equal((await send("carol@example.com", `titi@${MAIL_DOMAIN}`, "carol to titi", CLEAN)).rcpt[0]!.code, 550);
    // titi cannot unblock bob for toto either.
    assert.match(note(await command(titi, contactJid("bob@example.com"), "spam-unblock")), /was not blocked/);
    assert.equal((await send("bob@example.com", `toto@${MAIL_DOMAIN}`, "bob still blocked", CLEAN)).rcpt[0]!.code, 550);

    assert.match(note(await command(toto, contactJid("bob@example.com"), "spam-unblock")), /^Unblocked/);
    assert.equal((await send("bob@example.com", `toto@${MAIL_DOMAIN}`, "bob again", CLEAN)).data?.code, 250);
    await toto.waitForMessage((s) => body(s).includes("bob again"), "bob's mail after unblock");
  });

  it("a blocked From behind a new envelope sender each time (a list's VERP) is dropped for that mailbox, 550 5.7.1 when no one is left", async () => {
    const list = (n: number, to: string[], subject: string) => sendRaw(stack.gateway.smtpPort, `news+${n}@bounces.example.net`, to,
      mail("Weekly <weekly@example.net>", to.join(", "), subject, CLEAN));
    assert.equal((await list(1, [`toto@${MAIL_DOMAIN}`], "weekly one")).data?.code, 250);
    await toto.waitForMessage((s) => body(s).includes("weekly one"), "the first newsletter");
    assert.match(note(await command(toto, contactJid("weekly@example.net"), "spam-block")), /^Blocked: mail from weekly@example\.net /);
    // The next issue comes from another envelope address: RCPT cannot know, the From says who it is.
    const alone = await list(2, [`toto@${MAIL_DOMAIN}`], "weekly two");
    assert.equal(alone.rcpt[0]!.code, 250);
    assert.equal(alone.data?.code, 550);
    assert.match(alone.data!.text, /^5\.7\.1 /);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'weekly two'")).length, 0, "nothing stored");
    // With another recipient: accepted, delivered to titi only.
    const both = await list(3, [`toto@${MAIL_DOMAIN}`, `titi@${MAIL_DOMAIN}`], "weekly three");
    assert.equal(both.data?.code, 250);
    await titi.waitForMessage((s) => body(s).includes("weekly three"), "the newsletter at titi");
    assert.deepEqual((await stack.db.query<{ recipient: string }>(`SELECT d.recipient FROM deliveries d JOIN messages m
      ON m.id = d.message_id WHERE m.subject = 'weekly three'`)).map((r) => r.recipient), [`titi@${MAIL_DOMAIN}`]);
    assert.ok(!toto.messages.some((m) => /weekly (two|three)/.test(body(m))), "toto got neither");
    assert.match(note(await command(toto, contactJid("weekly@example.net"), "spam-unblock")), /^Unblocked/);
  });

  it("\"this is spam\" blocks the sender and teaches rspamd its latest mail", async () => {
    await send("dave@example.com", `toto@${MAIL_DOMAIN}`, "dave offer", "Cheap watches, best prices, click here today, limited offer for you.");
    await toto.waitForMessage((s) => body(s).includes("dave offer"), "dave's mail");
    const answer = note(await command(toto, contactJid("dave@example.com"), "spam-report"));
    assert.match(answer, /^Blocked: mail from dave@example\.com .* Its latest mail was learned as spam\.$/);
    // rspamd 3.4 keeps its Bayes tokens in Redis (its `RS` keys).
    assert.ok(execFileSync("redis-cli", ["-h", "127.0.0.1", "-n", String(rspamd.redisDb), "keys", "RS*"]).toString().trim().length > 0);
    assert.equal((await send("dave@example.com", `toto@${MAIL_DOMAIN}`, "dave again", CLEAN)).rcpt[0]!.code, 550);
  });

  it("rspamd stopped: 451 4.7.0 by default; RSPAMD_UNAVAILABLE=accept stores it unfiltered and says so", async () => {
    assert.match((await stack.gateway.cli("check")).stdout, /^✓ rspamd: http:\/\/127\.0\.0\.1:\d+ answers, and its controller$/m);
    await rspamd.stop();
    assert.match((await stack.gateway.cli("check")).stdout, /^✗ rspamd: .* \(mail gets RSPAMD_UNAVAILABLE=tempfail meanwhile\)$/m);
    const r = await send("erin@example.com", `toto@${MAIL_DOMAIN}`, "while down", CLEAN);
    assert.equal(r.data?.code, 451, r.data?.text);
    assert.match(r.data?.text ?? "", /^4\.7\.0 /);
    assert.equal((await stack.db.query("SELECT 1 FROM messages WHERE subject = 'while down'")).length, 0);

    await stack.gateway.stop();
    stack.gateway.env.RSPAMD_UNAVAILABLE = "accept";
    await stack.gateway.start();
    await waitFor("the gateway's link", async () => (await stack.gateway.health())?.body.xmpp === "online");
    const accepted = await send("erin@example.com", `toto@${MAIL_DOMAIN}`, "unfiltered one", CLEAN);
    assert.equal(accepted.data?.code, 250, accepted.data?.text);
    const m = await toto.waitForMessage((s) => body(s).includes("unfiltered one"), "the unfiltered mail");
    assert.ok(body(m).startsWith("[not checked for spam] unfiltered one"), body(m));
    const [row] = await stack.db.query<{ spam: { unfiltered: string } }>("SELECT spam FROM messages WHERE subject = 'unfiltered one'");
    assert.match(row!.spam.unfiltered, /unreachable/);
  });
});
