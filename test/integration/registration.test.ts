// XEP-0077 registration says what actually happened (docs/design.md §Registration): the form prefilled
// with the account's mailbox (or the one it may get), a success told in words as a chat message from the
// gateway, a refusal as a stanza error with words; a mailbox an administrator made is not disabled by
// unregistering, and the form says so. Real Prosody and ejabberd, real clients.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const NS = "jabber:iq:register";
const ELSEWHERE = "elsewhere.localhost";

for (const server of ["prosody", "ejabberd"] as const) describe(`XEP-0077 registration answers (${server})`, () => {
  let stack: Stack;
  const clients: ChatClient[] = [];

  before(async () => {
    stack = await startStack({ server, gatewayEnv: { SELF_SERVICE_DOMAINS: "localhost" },
      ...(server === "prosody" ? { otherDomains: [ELSEWHERE] } : {}) });
  });
  after(async () => {
    for (const c of clients) await c.stop();
    await stack?.close();
  });

  const login = async (name: string, domain = stack.server.domain) => {
    await stack.server.register(name, "secret", ...(domain === stack.server.domain ? [] : [domain]));
    const c = await connectClient(stack.server.c2sPort, domain, name, "secret");
    clients.push(c);
    return c;
  };
  const form = async (c: ChatClient) => (await c.request(xml("iq", { type: "get", to: COMPONENT_DOMAIN }, xml("query", { xmlns: NS }))))
    .getChild("query", NS)!;
  /** Registers (or removes); resolves with the words said: the gateway's chat message, or the error's. */
  async function register(c: ChatClient, child: Element | null): Promise<string> {
    const before = c.messages.length;
    try {
      await c.request(xml("iq", { type: "set", to: COMPONENT_DOMAIN }, xml("query", { xmlns: NS }, child)));
    } catch (err) {
      const e = err as { condition?: string; text?: string };
      if (!e.condition) throw err;
      return `error ${e.condition}: ${e.text}`;
    }
    const told = await waitFor("the gateway's words", () => c.messages.slice(before).find((m) => m.attrs.from === COMPONENT_DOMAIN));
    assert.equal(told.attrs.type, "chat");
    return told.getChildText("body") ?? "";
  }
  const name = (n: string) => xml("username", {}, n);
  const enabled = async (address: string) => (await stack.db.query<{ enabled: boolean }>(
    "SELECT enabled FROM mailboxes WHERE address = $1", [address]))[0]?.enabled;

  it("a self-service mailbox: prefilled, registered, asked again (nothing changed), another name refused, removed, back", async () => {
    const newbie = await login("newbie");
    const address = `newbie@${MAIL_DOMAIN}`;
    const empty = await form(newbie);
    assert.equal(empty.getChild("registered"), undefined);
    assert.equal(empty.getChildText("username"), "newbie", "prefilled with the mailbox it may get");
    assert.match(await register(newbie, name("newbie")), new RegExp(`^Your mailbox is ${address}: mail to it arrives here`));
    const registered = await form(newbie);
    assert.ok(registered.getChild("registered"));
    assert.equal(registered.getChildText("username"), "newbie", "prefilled with its mailbox");
    assert.match(registered.getChildText("instructions")!, /Unregistering disables it: its mail is kept/);
    assert.equal(await register(newbie, name("NewBie")), `You already have the mailbox ${address}; nothing changed.`);
    assert.equal(await register(newbie, null), `You already have the mailbox ${address}; nothing changed.`);
    assert.equal(await register(newbie, name("someone")),
      `error not-acceptable: You already have the mailbox ${address}; "someone" was not used: an account holds one name.`);
    assert.match(await register(newbie, xml("remove")), new RegExp(`^Your mailbox ${address} is disabled: mail to it is refused, the mail it had is kept`));
    assert.equal(await enabled(address), false);
    assert.equal(await register(newbie, xml("remove")), "error registration-required: You have no mailbox on this gateway to remove.");
    const back = await form(newbie);
    assert.equal(back.getChildText("username"), "newbie");
    assert.match(back.getChildText("instructions")!, /to have your mailbox newbie@jabber\.test back/);
    assert.match(await register(newbie, name("other")), /^error not-acceptable: An account holds one name: yours is newbie@jabber\.test.*"other" was not used/);
    assert.equal(await register(newbie, null), `Your mailbox ${address} is enabled again, with the mail it kept; mail to it arrives here.`);
    assert.equal(await enabled(address), true);
  });

  it("a mailbox an administrator made: prefilled, said so; a name asked for is not used; unregistering leaves it", async () => {
    const desk = await login("desk");
    const address = `contact-desk@${MAIL_DOMAIN}`;
    await stack.db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, 'desk@localhost')", [address]);
    const shown = await form(desk);
    assert.ok(shown.getChild("registered"));
    assert.equal(shown.getChildText("username"), "contact-desk");
    assert.equal(shown.getChildText("instructions"), `Your mailbox is ${address}, made by an administrator: unregistering does not disable it (an administrator does that), and registering again changes nothing.`);
    assert.equal(await register(desk, name("contact-desk")), `You already have the mailbox ${address}; nothing changed.`);
    assert.equal(await register(desk, name("desk")),
      `error not-acceptable: You already have the mailbox ${address}, made by an administrator; "desk" was not used: an account has one mailbox.`);
    assert.equal(await register(desk, xml("remove")),
      `error forbidden: Your mailbox ${address} was made by an administrator: unregistering does not disable it; ask an administrator.`);
    assert.equal(await enabled(address), true);
    const [count] = await stack.db.query<{ n: string }>("SELECT count(*) AS n FROM mailboxes WHERE jid = 'desk@localhost'");
    assert.equal(count?.n, "1", "no self-service mailbox beside it");
  });

  if (server === "prosody") it("another server's account is refused with words", async () => {
    const visitor = await login("visitor", ELSEWHERE);
    await assert.rejects(form(visitor), (err: { condition?: string; text?: string }) =>
      err.condition === "not-allowed" && err.text === "Mailboxes are offered to accounts of this server only.");
    assert.equal(await register(visitor, name("visitor")), "error not-allowed: Mailboxes are offered to accounts of this server only.");
  });
});
