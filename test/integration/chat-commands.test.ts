// Chat commands (docs/design.md §Chat commands): words typed to the gateway's own JID, for clients without
// ad-hoc commands. Real Prosody and ejabberd, real clients: a user, an administrator, an account without a
// mailbox, another server's account (Prosody hosts a second domain), and the command rate they share
// with XEP-0050 requests.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const ELSEWHERE = "elsewhere.localhost";
const fromGateway = (m: Element) => m.attrs.from === COMPONENT_DOMAIN;

/** Sends `line` to the gateway's JID; resolves with the answer's text, or the error's condition and text. */
async function say(c: ChatClient, line: string): Promise<string> {
  const id = `cmd-${Math.random().toString(36).slice(2)}`;
  const before = c.messages.length;
  await c.send(xml("message", { type: "chat", to: COMPONENT_DOMAIN, id }, xml("body", {}, line)));
  const answer = await waitFor(`the answer to "${line}"`, () => c.messages.slice(before).find((m) => fromGateway(m)
    && (m.attrs.type === "chat" || (m.attrs.type === "error" && m.attrs.id === id))));
  if (answer.attrs.type !== "error") {
    assert.equal(answer.attrs.to, `${c.jid}/test`, "answered to the full JID that wrote");
    return answer.getChildText("body") ?? "";
  }
  const error = answer.getChild("error")!;
  return `error ${error.getChildElements().find((e) => e.attrs.xmlns === STANZAS)?.name}: ${error.getChildText("text", STANZAS)}`;
}

for (const server of ["prosody", "ejabberd"] as const) describe(`chat commands (${server})`, () => {
  let stack: Stack;
  let toto: ChatClient;
  let admin: ChatClient;
  let stranger: ChatClient;

  before(async () => {
    stack = await startStack({ server, gatewayEnv: { SELF_SERVICE_DOMAINS: "localhost", ADMIN_JIDS: "boss@localhost" },
      ...(server === "prosody" ? { otherDomains: [ELSEWHERE] } : {}) });
    toto = (await stack.user("toto"))!;
    admin = (await stack.user("boss"))!;
    await stack.server.register("stranger", "secret");
    stranger = await connectClient(stack.server.c2sPort, stack.server.domain, "stranger", "secret");
  });
  after(async () => {
    await stranger?.stop();
    await stack?.close();
  });

  it("help lists what the writer may run; administrators see theirs too", async () => {
    const help = await say(toto, "help");
    for (const usage of ["help", "mail ADDRESS", "settings", "set NAME on|off (set name Your Name)", "status", "badge [on|off|message on|message off]",
      "spam ADDRESS", "block ADDRESS", "unblock ADDRESS", "held", "release ID"]) {
      assert.match(help, new RegExp(`^  ${usage.replace(/[|()[\]]/g, "\\$&")} — `, "m"), usage);
    }
    assert.doesNotMatch(help, /Administrator|mailboxes/);
    assert.equal(await say(toto, "/HELP"), help, "a leading slash and any case are the same word");
    const boss = await say(admin, "help");
    assert.match(boss, /Administrator commands:\n {2}mailboxes — /);
    assert.match(await say(admin, "mailboxes"), new RegExp(`toto@${MAIL_DOMAIN}  toto@localhost  yes`));
    assert.match(await say(toto, "mailboxes"), /is not a command here/, "an administrator's word is unknown to others");
  });

  it("mail ADDRESS answers with the contact as a clickable xmpp: URI (RFC 5122, XEP-0106 escaped)", async () => {
    const answer = await say(toto, "mail Alice@Example.com");
    assert.match(answer, new RegExp(`^Alice@Example\\.com: xmpp:alice%5C40example\\.com@${COMPONENT_DOMAIN.replace(/\./g, "\\.")}$`, "m"));
    assert.match(answer, new RegExp(`leaves as a mail from toto@${MAIL_DOMAIN}`));
    assert.match(answer, /Your server does not let the gateway add contacts: add it yourself from the link\.$/,
      "without roster permission nothing is said to be added");
    assert.match(await say(toto, `mail alice%example.com@${COMPONENT_DOMAIN}`), /xmpp:alice%5C40example\.com@/, "the % form");
    assert.match(await say(toto, "mail <o'brien@example.com>"), /xmpp:o%5C27brien%5C40example\.com@/);
    assert.match(await say(toto, "mail not-an-address"), /is not an e-mail address/);
    assert.match(await say(toto, "mail"), /^Usage: mail ADDRESS/);
  });

  it("settings shows what the Mailbox settings command shows; set changes it", async () => {
    assert.match(await say(toto, "settings"), new RegExp(`^Settings for toto@${MAIL_DOMAIN}:\n  pause: off — .*\n  quotes: on — .*\n  headers: off — .*\n  name: \\(none\\) — .*\n  roster: on — .*\n  hold: off — `));
    assert.match(await say(toto, "set pause on"), /^pause: on\. Saved\.$/);
    const [row] = await stack.db.query<{ paused: boolean }>("SELECT paused FROM mailboxes WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    assert.equal(row?.paused, true);
    assert.match(await say(toto, "settings"), /pause: on/);
    assert.match(await say(toto, "set pause off"), /Delivery resumes/);
    assert.match(await say(toto, "set colour blue"), /^Usage: set NAME on\|off, NAME one of pause, quotes, headers, roster, hold; or set name TEXT\.$/);
    assert.match(await say(toto, "set name Toto Dupont"), /^name: Toto Dupont\./);
    const [named] = await stack.db.query<{ display_name: string }>("SELECT display_name FROM mailboxes WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    assert.equal(named?.display_name, "Toto Dupont");
    assert.match(await say(toto, "set pause maybe"), /^Usage: /);
  });

  it("status is the My mailbox command's content; an unknown word points to help", async () => {
    assert.match(await say(toto, "status"), new RegExp(`^Address: toto@${MAIL_DOMAIN}\nWaiting: 0 to you, 0 from you\\.`));
    assert.equal(await say(toto, "frobnicate now"), `"frobnicate" is not a command here. Send "help" for the list.`);
    // Chat states are not commands: no answer to them (the next answer is the next command's).
    await toto.send(xml("message", { type: "chat", to: COMPONENT_DOMAIN }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    assert.match(await say(toto, "status"), /^Address: /);
  });

  it("an account without a mailbox gets one short answer, how to get one, whatever it types", async () => {
    const answers = new Set<string>();
    for (const line of ["help", "mail alice@example.com", "settings", "status", "frobnicate"]) answers.add(await say(stranger, line));
    assert.deepEqual([...answers], [`You have no mailbox on this gateway. Register with ${COMPONENT_DOMAIN} to get the mailbox stranger@${MAIL_DOMAIN} (your client's "Register" on the gateway, in its service discovery).`]);
  });

  if (server === "prosody") it("another server's account gets the same kind of answer: no mailbox, none offered", async () => {
    await stack.server.register("visitor", "secret", ELSEWHERE);
    const visitor = await connectClient(stack.server.c2sPort, ELSEWHERE, "visitor", "secret");
    try {
      const answers = new Set<string>();
      for (const line of ["help", "mail alice@example.com", "status"]) answers.add(await say(visitor, line));
      assert.deepEqual([...answers], ["You have no mailbox on this gateway. Mailboxes are offered to accounts of this server only. Ask the administrator of your XMPP server if you need one."]);
    } finally {
      await visitor.stop();
    }
  });
});

describe("chat commands share the command rate with XEP-0050 (prosody)", () => {
  const RATE = 3;
  let stack: Stack;
  let toto: ChatClient;
  before(async () => {
    stack = await startStack({ server: "prosody", gatewayEnv: { COMMAND_RATE_PER_MINUTE: String(RATE) } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => { await stack?.close(); });

  it("past the rate a chat command is refused with a stanza error in words, and so is the next ad-hoc command", async () => {
    const adhoc = () => toto.request(xml("iq", { type: "set", to: COMPONENT_DOMAIN },
      xml("command", { xmlns: "http://jabber.org/protocol/commands", node: "status", action: "execute" })));
    await adhoc();
    const answers: string[] = [];
    for (let i = 0; i < 2 * RATE; i++) answers.push(await say(toto, "status"));
    assert.deepEqual(answers.map((a) => a.startsWith("Address: ") ? "answered" : a), [
      ...Array(RATE - 1).fill("answered"),
      ...Array(RATE + 1).fill(`error resource-constraint: Too many commands: at most ${RATE} a minute from one account; wait a minute and try again.`),
    ]);
    await assert.rejects(adhoc(), (err: { condition?: string }) => err.condition === "resource-constraint");
  });
});
