// Self-service names that cannot be spoofed (XEP-0077 with src/core/policy.ts): each account gets its own
// name only, reserved names (RFC 2142) and look-alikes (Unicode TR39 §4) are refused with words, and on a
// free-name domain a name is first come, first served, one skeleton at a time. Real Prosody, real clients.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sendMail } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { connectClient, refusal, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const NS_REGISTER = "jabber:iq:register";
const body = (m: Element) => m.getChildText("body") ?? "";
const form = async (c: ChatClient) => (await c.request(xml("iq", { type: "get", to: COMPONENT_DOMAIN }, xml("query", { xmlns: NS_REGISTER }))))
  .getChild("query", NS_REGISTER)!;
const register = (c: ChatClient, username?: string) => c.request(xml("iq", { type: "set", to: COMPONENT_DOMAIN },
  xml("query", { xmlns: NS_REGISTER }, username === undefined ? null : xml("username", {}, username))));


async function accounts(stack: Stack, names: string[]): Promise<ChatClient[]> {
  const clients: ChatClient[] = [];
  for (const name of names) {
    await stack.server.register(name, "secret");
    clients.push(await connectClient(stack.server.c2sPort, stack.server.domain, name, "secret"));
  }
  return clients;
}
const selfService = async (stack: Stack) => (await stack.db.query<{ address: string; jid: string }>(
  "SELECT address, jid FROM mailboxes WHERE self_service ORDER BY address")).map((r) => `${r.address} ${r.jid}`);

describe("self-service names, by default: an account's own name only, ASCII", () => {
  let stack: Stack;
  let clients: ChatClient[] = [];
  before(async () => {
    stack = await startStack({ server: "prosody", gatewayEnv: { SELF_SERVICE_DOMAINS: "localhost" } });
    await stack.user("toto", { connect: false });
    clients = await accounts(stack, ["mallet", "bob", "t0to", "sales"]);
  });
  after(async () => {
    for (const c of clients) await c.stop();
    await stack?.close();
  });

  it("mallet cannot take bob (an account without a mailbox yet), toto's look-alikes or sales; the answers say why", async () => {
    const [mallet] = clients as [ChatClient];
    const offer = await form(mallet);
    assert.equal(offer.getChildText("username"), "mallet");
    assert.match(offer.getChildText("instructions") ?? "", /mallet@jabber\.test/);
    for (const name of ["bob", "BOB", "t\u043eto", "ｔｏｔｏ", "sales", "mallet2"]) {
      const answer = await refusal(register(mallet, name));
      assert.deepEqual([answer.condition, answer.type], ["not-acceptable", "modify"], name);
      assert.match(answer.text, /Each account gets the mailbox of its own name: yours is mallet@jabber\.test/, name);
    }
    assert.deepEqual(await selfService(stack), [], "nothing was created");
  });

  it("an account named like a reserved mailbox, or like an existing one, gets no mailbox", async () => {
    const [, , t0to, sales] = clients as [ChatClient, ChatClient, ChatClient, ChatClient];
    const closed = await refusal(form(sales));
    assert.equal(closed.condition, "not-allowed");
    assert.match(closed.text, /sales is reserved for the server's own use/);
    const reserved = await refusal(register(sales));
    assert.equal(reserved.condition, "not-acceptable");
    assert.match(reserved.text, /sales is reserved/);
    const alike = await refusal(register(t0to));
    assert.deepEqual([alike.condition, alike.type], ["conflict", "cancel"]);
    assert.match(alike.text, /t0to@jabber\.test looks like toto@jabber\.test, someone else's mailbox/);
    assert.deepEqual(await selfService(stack), []);
  });

  it("bob registers his own name and gets bob's mail; mallet gets his own, and none of bob's", async () => {
    const [mallet, bob] = clients as [ChatClient, ChatClient];
    await register(bob);
    const registered = await form(bob);
    assert.ok(registered.getChild("registered"));
    assert.equal(registered.getChildText("username"), "bob");
    await register(mallet, "MALLET");
    assert.deepEqual(await selfService(stack), [`bob@${MAIL_DOMAIN} bob@localhost`, `mallet@${MAIL_DOMAIN} mallet@localhost`]);
    await sendMail(stack.gateway.smtpPort, { from: "carol@example.com", to: `bob@${MAIL_DOMAIN}`, subject: "for bob", text: "hi" });
    await sendMail(stack.gateway.smtpPort, { from: "carol@example.com", to: `mallet@${MAIL_DOMAIN}`, subject: "for mallet", text: "hi" });
    await bob.waitForMessage((m) => body(m).startsWith("for bob"), "bob's mail");
    await mallet.waitForMessage((m) => body(m).startsWith("for mallet"), "mallet's mail");
    assert.equal(mallet.messages.filter((m) => body(m).includes("for bob")).length, 0, "bob's mail went to bob only");
  });
});

describe("self-service names with SELF_SERVICE_NAMES=unicode and a free-name domain", () => {
  let stack: Stack;
  let clients: ChatClient[] = [];
  before(async () => {
    stack = await startStack({ server: "prosody", gatewayEnv: { SELF_SERVICE_DOMAINS: "localhost", MAIL_DOMAINS: `${MAIL_DOMAIN},lists.test`,
      SELF_SERVICE_FREE_NAMES: "lists.test", SELF_SERVICE_NAMES: "unicode" } });
    // Written with SQL, as an administrator may: no skeleton yet; the next registration computes it.
    await stack.db.query("INSERT INTO mailboxes (address, jid) VALUES ('Toto@lists.test', 'toto@localhost')");
    clients = await accounts(stack, ["mallet", "eve"]);
  });
  after(async () => {
    for (const c of clients) await c.stop();
    await stack?.close();
  });

  it("names are chosen only on the free-name domain; look-alikes, mixed scripts and reserved names are refused", async () => {
    const [mallet] = clients as [ChatClient];
    assert.match((await form(mallet)).getChildText("instructions") ?? "", /enter name@lists\.test as the username/);
    const own = await refusal(register(mallet, "bob"));
    assert.equal(own.condition, "not-acceptable");
    assert.match(own.text, /yours is mallet@jabber\.test; no other name can be chosen \(a name of your choice: name@lists\.test\)/);
    const mixed = await refusal(register(mallet, "t\u043eto@lists.test"));
    assert.equal(mixed.condition, "not-acceptable");
    assert.match(mixed.text, /mixes scripts \(Latin, Cyrillic\)/);
    const zeros = await refusal(register(mallet, "T0T0@lists.test"));
    assert.deepEqual([zeros.condition, zeros.text], ["conflict",
      "t0t0@lists.test looks like Toto@lists.test, someone else's mailbox; a name that can be mistaken for another is refused."]);
    const greek = await refusal(register(mallet, "t\u03bf\u03c4\u03bf@lists.test"));
    assert.match(greek.text, /mixes scripts \(Latin, Greek\)/);
    const cyrillic = await refusal(register(mallet, "\u0442\u043e\u0442\u043e@lists.test"));
    assert.deepEqual([cyrillic.condition, cyrillic.text], ["conflict",
      "тото@lists.test looks like Toto@lists.test, someone else's mailbox; a name that can be mistaken for another is refused."]);
    const same = await refusal(register(mallet, "ｔｏｔｏ@lists.test"));
    assert.deepEqual([same.condition, same.text], ["conflict", "toto@lists.test is already someone else's mailbox."]);
    const reserved = await refusal(register(mallet, "Sales@lists.test"));
    assert.match(reserved.text, /sales is reserved/);
    assert.deepEqual(await selfService(stack), []);
    const [row] = await stack.db.query<{ skeleton: string }>("SELECT skeleton FROM mailboxes WHERE address = 'Toto@lists.test'");
    assert.equal(row?.skeleton, "toto@lists.test", "the SQL-made row got its skeleton");
  });

  it("an address changed with SQL loses its skeleton, and the next registration computes the new one", async () => {
    const [mallet] = clients as [ChatClient];
    await stack.db.query("UPDATE mailboxes SET address = 'Lola@lists.test' WHERE address = 'Toto@lists.test'");
    const [row] = await stack.db.query<{ skeleton: string | null }>("SELECT skeleton FROM mailboxes WHERE address = 'Lola@lists.test'");
    assert.equal(row?.skeleton, null);
    const alike = await refusal(register(mallet, "lo1a@lists.test"));
    assert.deepEqual([alike.condition, alike.text], ["conflict",
      "lo1a@lists.test looks like Lola@lists.test, someone else's mailbox; a name that can be mistaken for another is refused."]);
  });

  it("two look-alikes asked at the same moment: one is created, the other refused", async () => {
    const [mallet, eve] = clients as [ChatClient, ChatClient];
    const answers = await Promise.allSettled([register(mallet, "paypal@lists.test"), register(eve, "paypa1@lists.test")]);
    assert.equal(answers.filter((a) => a.status === "fulfilled").length, 1, "exactly one created");
    const refused = answers.find((a) => a.status === "rejected") as PromiseRejectedResult;
    assert.equal((refused.reason as { condition?: string }).condition, "conflict");
    const rows = await selfService(stack);
    assert.equal(rows.length, 1);
    assert.match(rows[0]!, /^paypa[l1]@lists\.test (mallet|eve)@localhost$/);

    // The winner removes its registration and cannot come back with another name: one name an account.
    const winner = answers[0].status === "fulfilled" ? mallet : eve;
    const address = rows[0]!.split(" ")[0]!;
    await winner.request(xml("iq", { type: "set", to: COMPONENT_DOMAIN }, xml("query", { xmlns: NS_REGISTER }, xml("remove"))));
    // Prefilled with what registers it again: the whole address, as it is not on the account's own domain.
    assert.equal((await form(winner)).getChildText("username"), address);
    const second = await refusal(register(winner, "another@lists.test"));
    assert.deepEqual([second.condition, second.text], ["not-acceptable",
      `An account holds one name: yours is ${address}; register with it, or with no name, to have it back ("another@lists.test" was not used).`]);
    await register(winner);
    assert.deepEqual(await selfService(stack), rows);
    const [state] = await stack.db.query<{ enabled: boolean }>("SELECT enabled FROM mailboxes WHERE address = $1", [address]);
    assert.equal(state?.enabled, true);
  });
});
