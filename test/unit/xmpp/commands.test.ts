// XEP-0050 sessions and XEP-0004 forms, without a server: the protocol rules in isolation.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import xmppComponent from "@xmpp/component";
import { createCommands, type CommandSpec } from "../../../src/xmpp/commands.ts";
import { formElement, readForm, tableElement } from "../../../src/xmpp/forms.ts";
import type { BareJid } from "../../../src/core/types.ts";

const { xml } = xmppComponent;
const NS = "http://jabber.org/protocol/commands";
const USER = "toto@jabber.example.org" as BareJid;
const ADMIN = "boss@jabber.example.org" as BareJid;

const ran: { jid: string; values: Record<string, string> }[] = [];
const specs: CommandSpec[] = [
  { node: "echo", name: "Echo", admin: false,
    form: async () => ({ title: "Echo", fields: [{ var: "text", type: "text-multi", label: "Text", value: "a\nb" }] }),
    run: async (jid, values) => { ran.push({ jid, values: Object.fromEntries(values) }); return { note: `said ${values.get("text")}` }; } },
  { node: "now", name: "Now", admin: false, run: async () => ({ note: "done", table: { title: "T", columns: [{ var: "c", label: "C" }], rows: [{ c: "v\u0001" }] } }) },
  { node: "secret", name: "Secret", admin: true, run: async () => ({ note: "admin only" }) },
];
const commands = createCommands({ domain: "mail.example.org" }, { commands: specs, isAdmin: (j) => j === ADMIN });
const exec = (jid: BareJid, attrs: Record<string, string>, ...children: ReturnType<typeof xml>[]) =>
  commands.execute(jid, xml("command", { xmlns: NS, ...attrs }, ...children));
const errorOf = (e: ReturnType<typeof xml>) => (e.is("error") ? e.getChildElements()[0]!.name : null);

describe("createCommands", () => {
  it("lists only what the requester may run, as disco#items of the commands node", () => {
    assert.deepEqual(commands.items(USER).getChildren("item").map((i) => i.attrs.node), ["echo", "now"]);
    assert.deepEqual(commands.items(ADMIN).getChildren("item").map((i) => i.attrs.node), ["echo", "now", "secret"]);
    assert.equal(commands.info(USER, "secret"), null);
    assert.equal(commands.info(ADMIN, "secret")?.getChild("identity")?.attrs.type, "command-node");
  });

  it("runs a one-stage command: form with a session, then the submitted values, completed once", async () => {
    const first = await exec(USER, { node: "echo", action: "execute" });
    assert.equal(first.attrs.status, "executing");
    assert.deepEqual(first.getChild("x")!.getChild("field")!.getChildren("value").map((v) => v.getText()), ["a", "b"]);
    const submit = xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "text" }, xml("value", {}, "one"), xml("value", {}, "two")));
    const done = await exec(USER, { node: "echo", sessionid: String(first.attrs.sessionid), action: "complete" }, submit);
    assert.equal(done.attrs.status, "completed");
    assert.equal(done.getChildText("note"), "said one\ntwo");
    assert.deepEqual(ran.at(-1), { jid: USER, values: { text: "one\ntwo" } });
    const again = await exec(USER, { node: "echo", sessionid: String(first.attrs.sessionid), action: "complete" }, submit);
    assert.equal(errorOf(again), "bad-request", "a session completes once");
    assert.ok(again.getChild("bad-sessionid", NS));
  });

  it("refuses another user's session, cancels cleanly, and runs form-less commands at once", async () => {
    const first = await exec(USER, { node: "echo" });
    assert.equal(errorOf(await exec(ADMIN, { node: "echo", sessionid: String(first.attrs.sessionid), action: "complete" })), "bad-request");
    const canceled = await exec(USER, { node: "echo", sessionid: String(first.attrs.sessionid), action: "cancel" });
    assert.equal(canceled.attrs.status, "canceled");
    const now = await exec(USER, { node: "now" });
    assert.equal(now.attrs.status, "completed");
    assert.equal(now.getChild("x")!.getChild("item")!.getChild("field")!.getChildText("value"), "v", "forbidden characters removed");
  });

  it("answers forbidden for admin commands and item-not-found for unknown nodes", async () => {
    assert.equal(errorOf(await exec(USER, { node: "secret" })), "forbidden");
    assert.equal(errorOf(await exec(USER, { node: "nope" })), "item-not-found");
    assert.equal((await exec(ADMIN, { node: "secret" })).getChildText("note"), "admin only");
  });
});

describe("createCommands budgets", () => {
  const budgeted = (perMinute: number, perDomainPerMinute: number) => {
    let t = 0;
    const c = createCommands({ domain: "mail.example.org", budget: { sessionsPerUser: 2, sessions: 100, perMinute, perDomainPerMinute,
      homeDomains: ["jabber.example.org"] } }, { commands: specs, isAdmin: (j) => j === ADMIN, now: () => t });
    return { run: (jid: string, attrs: Record<string, string>) => c.execute(jid as BareJid, xml("command", { xmlns: NS, ...attrs })),
      advance: (ms: number) => { t += ms; } };
  };
  const textOf = (e: ReturnType<typeof xml>) => e.getChildText("text", "urn:ietf:params:xml:ns:xmpp-stanzas") ?? "";

  it("answers resource-constraint with words past an account's rate, whatever the request, and only for that account", async () => {
    const { run, advance } = budgeted(3, 0);
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await run(USER, { node: i % 2 ? "nope" : "now" }));
    assert.equal(answers.filter((a) => errorOf(a) === "resource-constraint").length, 7);
    assert.equal(answers[9]!.attrs.type, "wait");
    assert.match(textOf(answers[9]!), /at most 3 a minute/);
    assert.equal((await run(ADMIN, { node: "now" })).attrs.status, "completed", "another account is served");
    advance(20_000);
    assert.equal((await run(USER, { node: "now" })).attrs.status, "completed", "refilled");
  });

  it("shares a rate among accounts of another domain, not of the home domains nor administrators", async () => {
    const { run } = budgeted(0, 4);
    const far = Array.from({ length: 6 }, (_, i) => run(`u${i}@far.example`, { node: "now" }));
    const statuses = (await Promise.all(far)).map((a) => errorOf(a) ?? a.attrs.status);
    assert.deepEqual(statuses, ["completed", "completed", "completed", "completed", "resource-constraint", "resource-constraint"]);
    assert.match(textOf((await run("u9@far.example", { node: "now" }))), /accounts of far\.example/);
    assert.equal((await run("x@jabber.example.org", { node: "now" })).attrs.status, "completed");
    for (let i = 0; i < 10; i++) assert.equal((await run(`y${i}@jabber.example.org`, { node: "now" })).attrs.status, "completed");
  });

  it("a user who opens more forms than their share keeps the latest ones; the oldest is bad-sessionid", async () => {
    const { run } = budgeted(0, 0);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(String((await run(USER, { node: "echo" })).attrs.sessionid));
    const stale = await run(USER, { node: "echo", sessionid: ids[0]!, action: "complete" });
    assert.ok(stale.getChild("bad-sessionid", NS));
    assert.match(textOf(stale), /replaced by one you opened later/);
    for (const id of ids.slice(1)) assert.equal((await run(USER, { node: "echo", sessionid: id, action: "complete" })).attrs.status, "completed");
  });
});

describe("forms", () => {
  it("reads only submitted forms, joining repeated values", () => {
    assert.equal(readForm(formElement({ title: "t", fields: [{ var: "a", type: "text-single", value: "1" }] })).size, 0);
    const x = xml("x", { xmlns: "jabber:x:data", type: "submit" }, xml("field", { var: "a" }, xml("value", {}, "1")), xml("field", {}, xml("value", {}, "x")));
    assert.deepEqual([...readForm(x)], [["a", "1"]]);
  });

  it("writes reported columns and one item per row", () => {
    const t = tableElement({ title: "T", columns: [{ var: "a", label: "A" }, { var: "b", label: "B" }], rows: [{ a: "1" }] });
    assert.deepEqual(t.getChild("reported")!.getChildren("field").map((f) => f.attrs.var), ["a", "b"]);
    assert.deepEqual(t.getChild("item")!.getChildren("field").map((f) => f.getChildText("value")), ["1", ""]);
  });
});
