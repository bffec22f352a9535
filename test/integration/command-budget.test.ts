// XEP-0050 budgets against the real gateway, Prosody and PostgreSQL (docs/design.md §Budgets): an account
// without a mailbox floods ad-hoc command requests; it holds at most its share of sessions, is answered
// resource-constraint past its rate, once per request, while another user and an administrator run
// commands to completion and the component link stays up.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { client } from "@xmpp/client";
import { COMPONENT_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const NS = { commands: "http://jabber.org/protocol/commands", data: "jabber:x:data", stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas" };
const FLOOD = 2000;
const PER_USER = 5;
const PER_MINUTE = 60;

const command = (attrs: Record<string, string>, ...children: Element[]) =>
  xml("iq", { type: "set", to: COMPONENT_DOMAIN }, xml("command", { xmlns: NS.commands, ...attrs }, ...children));
const conditionOf = (iq: Element) => iq.getChild("error")?.getChildElements().find((e) => e.attrs.xmlns === NS.stanzas)?.name ?? null;

/** A raw @xmpp/client session that records every iq it is sent, to count the gateway's answers. */
async function rawClient(stack: Stack, name: string) {
  const xmpp = client({ service: `xmpp://127.0.0.1:${stack.server.c2sPort}`, domain: stack.server.domain, resource: "flood",
    credentials: (authenticate) => authenticate({ username: name, password: "secret" }, "PLAIN") });
  const iqs: Element[] = [];
  xmpp.on("error", () => undefined);
  xmpp.on("stanza", (s: Element) => { if (s.is("iq")) iqs.push(s); });
  xmpp.reconnect.stop();
  await xmpp.start();
  return { xmpp, iqs };
}

describe("XEP-0050 command budgets (prosody)", () => {
  let stack: Stack;
  let toto: ChatClient;
  let admin: ChatClient;

  before(async () => {
    stack = await startStack({ server: "prosody", gatewayEnv: { ADMIN_JIDS: "boss@localhost",
      COMMAND_SESSIONS_PER_USER: String(PER_USER), COMMAND_RATE_PER_MINUTE: String(PER_MINUTE) } });
    toto = (await stack.user("toto"))!;
    admin = (await stack.user("boss"))!;
    await waitFor("the link online", async () => (await stack.gateway.health())?.body.xmpp === "online");
  });
  after(async () => { await stack?.close(); });

  /** One command to completion: the form, then its submission in the session the form opened. */
  const runToCompletion = async (c: ChatClient, node: string, fields: Record<string, string>) => {
    const first = (await c.request(command({ node, action: "execute" }), 60_000)).getChild("command", NS.commands)!;
    const form = xml("x", { xmlns: NS.data, type: "submit" },
      ...Object.entries(fields).map(([v, value]) => xml("field", { var: v }, xml("value", {}, value))));
    if (first.attrs.status !== "executing") return first;
    return (await c.request(command({ node, sessionid: String(first.attrs.sessionid), action: "complete" }, form), 60_000))
      .getChild("command", NS.commands)!;
  };

  it("a flood from one account holds its share, is refused past its rate, answered once a request; others are served", async () => {
    await stack.server.register("flooder", "secret"); // an account without a mailbox
    const flooder = await rawClient(stack, "flooder");
    const onlineLogs = () => stack.gateway.output().split("\n").filter((l) => l.includes('"xmpp component online"')).length;
    const linkUps = onlineLogs();
    try {
      const ids = Array.from({ length: FLOOD }, (_, i) => `flood-${i}`);
      // Pipelined: every request written before any answer is read.
      await Promise.all(ids.map((id) => flooder.xmpp.send(xml("iq", { type: "set", to: COMPONENT_DOMAIN, id },
        xml("command", { xmlns: NS.commands, node: "new-mail", action: "execute" })))));
      // Meanwhile another user and an administrator each run a command to completion.
      const [mine, theirs] = await Promise.all([
        runToCompletion(toto, "settings", { paused: "0" }),
        runToCompletion(admin, "admin-add-mailbox", { address: "carol@jabber.test", jid: "carol@localhost" }),
      ]);
      assert.equal(mine.attrs.status, "completed");
      assert.equal(mine.getChildText("note"), "Saved. Delivery resumes; waiting mail follows.");
      assert.equal(theirs.attrs.status, "completed");
      assert.equal((await stack.db.query("SELECT 1 FROM mailboxes WHERE address = 'carol@jabber.test'")).length, 1);

      const answered = () => flooder.iqs.filter((iq) => String(iq.attrs.id).startsWith("flood-"));
      await waitFor("an answer to every request", () => answered().length >= FLOOD, 120_000);
      const byId = new Map<string, Element[]>();
      for (const iq of answered()) byId.set(String(iq.attrs.id), [...(byId.get(String(iq.attrs.id)) ?? []), iq]);
      assert.equal(byId.size, FLOOD);
      assert.ok([...byId.values()].every((a) => a.length === 1), "one answer a request, never more");
      assert.ok(answered().every((iq) => iq.attrs.from === COMPONENT_DOMAIN), "answered by the gateway");
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(flooder.iqs.filter((iq) => iq.attrs.from === COMPONENT_DOMAIN).length, FLOOD, "nothing else from the gateway");

      const opened = ids.map((id) => byId.get(id)![0]!).filter((iq) => iq.attrs.type === "result");
      const refused = ids.map((id) => byId.get(id)![0]!).filter((iq) => iq.attrs.type === "error");
      assert.ok(opened.length >= PER_USER && opened.length <= PER_MINUTE + 5, `opened ${opened.length}: about the burst`);
      assert.equal(opened.length + refused.length, FLOOD);
      assert.ok(refused.every((iq) => conditionOf(iq) === "resource-constraint" && iq.getChild("error")!.attrs.type === "wait"));
      assert.match(refused[0]!.getChild("error")!.getChildText("text", NS.stanzas) ?? "", /at most 60 a minute/);

      // What it holds: the last PER_USER sessions it opened are open, those before them were given up.
      const sessionIds = opened.map((iq) => String(iq.getChild("command", NS.commands)!.attrs.sessionid));
      const probe = async (sessionid: string): Promise<string> => {
        for (;;) {
          const reply = await flooder.xmpp.iqCaller.request(command({ node: "new-mail", sessionid, action: "cancel" }), 30_000)
            .then((r: Element) => r.getChild("command", NS.commands)!.attrs.status as string,
              (e: { condition?: string; element?: Element }) => e.element?.getChild("bad-sessionid", NS.commands) ? "bad-sessionid" : String(e.condition));
          if (reply !== "resource-constraint") return reply;
          await new Promise((r) => setTimeout(r, 1000)); // the rate refills; a refused request costs nothing
        }
      };
      const older = [sessionIds[0]!, sessionIds[Math.floor(sessionIds.length / 2)]!, sessionIds.at(-PER_USER - 1)!];
      const held = sessionIds.slice(-PER_USER);
      assert.deepEqual(await Promise.all(older.map(probe)), older.map(() => "bad-sessionid"));
      assert.deepEqual(await Promise.all(held.map(probe)), held.map(() => "canceled"));

      const health = await stack.gateway.health();
      assert.equal(health?.status, 200);
      assert.equal(health?.body.xmpp, "online");
      assert.equal(onlineLogs(), linkUps, "the component link never dropped");
    } finally {
      await flooder.xmpp.stop().catch(() => undefined);
    }
  });
});

describe("XEP-0050 command sessions full overall (prosody)", () => {
  let stack: Stack;
  let toto: ChatClient;
  let admin: ChatClient;
  const strangers: ChatClient[] = [];

  before(async () => {
    stack = await startStack({ server: "prosody", gatewayEnv: { ADMIN_JIDS: "boss@localhost", COMMAND_SESSIONS: "4" } });
    toto = (await stack.user("toto"))!;
    admin = (await stack.user("boss"))!;
    for (const name of ["f1", "f2"]) { // accounts without a mailbox
      await stack.server.register(name, "secret");
      strangers.push(await connectClient(stack.server.c2sPort, stack.server.domain, name, "secret"));
    }
  });
  after(async () => {
    for (const c of strangers) await c.stop();
    await stack?.close();
  });

  const open = async (c: ChatClient, node: string) =>
    String((await c.request(command({ node, action: "execute" }))).getChild("command", NS.commands)!.attrs.sessionid);
  const cancel = (c: ChatClient, node: string, sessionid: string) => c.request(command({ node, sessionid, action: "cancel" }))
    .then((r) => String(r.getChild("command", NS.commands)!.attrs.status),
      (e: { element?: Element; condition?: string }) => e.element?.getChild("bad-sessionid", NS.commands) ? "bad-sessionid" : String(e.condition));

  it("holders trade their oldest; an account holding none and an administrator still get sessions; no one else loses one", async () => {
    const [f1, f2] = strangers as [ChatClient, ChatClient];
    const f1Sessions = [await open(f1, "new-mail"), await open(f1, "new-mail")];
    const f2Sessions = [await open(f2, "new-mail"), await open(f2, "new-mail")];
    const f1Again = await open(f1, "new-mail"); // the table is full: f1 trades its oldest

    const form = xml("x", { xmlns: NS.data, type: "submit" }, xml("field", { var: "paused" }, xml("value", {}, "0")));
    const totoSession = await open(toto, "settings");
    const done = (await toto.request(command({ node: "settings", sessionid: totoSession, action: "complete" }, form)))
      .getChild("command", NS.commands)!;
    assert.equal(done.attrs.status, "completed", "an account holding none is served while the table is full");

    const adminSessions = [await open(admin, "admin-add-mailbox"), await open(admin, "admin-add-mailbox"), await open(admin, "admin-add-mailbox")];
    assert.deepEqual(await Promise.all(adminSessions.map((s) => cancel(admin, "admin-add-mailbox", s))), ["canceled", "canceled", "canceled"],
      "an administrator is not held by the overall cap");
    assert.equal(await cancel(f1, "new-mail", f1Sessions[0]!), "bad-sessionid", "f1 gave up its oldest");
    assert.deepEqual(await Promise.all([f1Sessions[1]!, f1Again].map((s) => cancel(f1, "new-mail", s))), ["canceled", "canceled"]);
    assert.deepEqual(await Promise.all(f2Sessions.map((s) => cancel(f2, "new-mail", s))), ["canceled", "canceled"],
      "another account's sessions are untouched");
  });
});
