// The chat-command dispatcher and the mailbox commands over plain specs (docs/design.md §Chat commands).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createChatDispatcher, type ChatCommand } from "../../../src/services/chat-commands.ts";
import { createMailboxChatCommands, type AddContactResult } from "../../../src/services/mailbox-chat.ts";
import type { BareJid, MailAddress } from "../../../src/core/types.ts";
import type { CommandSpec } from "../../../src/xmpp/commands.ts";

const USER = "toto@example.org" as BareJid;
const ADMIN = "boss@example.org" as BareJid;
const NOBODY = "nobody@example.org" as BareJid;
const DOMAIN = "mail.example.org";

const echo: ChatCommand = { word: "echo", usage: "echo TEXT", help: "says it back", run: async (_u, args) => `echo: ${args}` };
const secret: ChatCommand = { word: "secret", usage: "secret", help: "admins only", admin: true, run: async () => "the secret" };
const dispatch = createChatDispatcher({ commands: [echo, secret], isAdmin: (j) => j === ADMIN,
  hasMailbox: async (j) => j !== NOBODY, noMailbox: async () => "no mailbox: register" });

describe("createChatDispatcher", () => {
  it("reads `word args`: case and a leading slash do not matter, the rest is passed as typed", async () => {
    assert.equal(await dispatch(USER, "  Echo   hello  World "), "echo: hello  World");
    assert.equal(await dispatch(USER, "/echo x"), "echo: x");
  });
  it("help lists the writer's commands; administrators see theirs under their own heading", async () => {
    const help = await dispatch(USER, "help");
    assert.equal(help, "Commands (send one as a message here):\n  help — this list\n  echo TEXT — says it back");
    assert.match(await dispatch(ADMIN, "help"), /\nAdministrator commands:\n {2}secret — admins only$/);
  });
  it("an unknown word, or an administrator's word from anyone else, points to help", async () => {
    assert.equal(await dispatch(USER, "secret"), `"secret" is not a command here. Send "help" for the list.`);
    assert.equal(await dispatch(ADMIN, "secret"), "the secret");
    assert.match(await dispatch(USER, "x".repeat(500)), /^"x{40}…" is not a command/);
  });
  it("an account without a mailbox gets only how to get one", async () => {
    for (const line of ["help", "echo x", "secret", "zzz"]) assert.equal(await dispatch(NOBODY, line), "no mailbox: register");
  });
  it("refuses two commands with one word", () => {
    assert.throws(() => createChatDispatcher({ commands: [echo, echo], isAdmin: () => false, hasMailbox: async () => true,
      noMailbox: async () => "" }), /defined twice/);
  });
});

describe("createMailboxChatCommands", () => {
  const saved: Map<string, string>[] = [];
  const specs: CommandSpec[] = [{
    node: "settings", name: "Mailbox settings", admin: false,
    form: async () => ({ title: "Settings for toto@example.org", fields: [
      { var: "paused", type: "boolean", label: "Pause delivery", value: "0" },
      { var: "digest", type: "list-single", label: "Digest", value: "never", options: [{ label: "Never", value: "never" }, { label: "Daily", value: "daily" }] },
    ] }),
    run: async (_j, values) => { saved.push(values); return { note: "Saved." }; },
  }, {
    node: "admin-retry", name: "Retry", admin: true,
    form: async () => ({ title: "Retry", fields: [{ var: "id", type: "text-single", label: "Id", required: true }] }),
    run: async (_j, values) => ({ note: `retrying ${values.get("id")}`, table: { title: "t", columns: [{ var: "a", label: "A" }, { var: "b", label: "B" }], rows: [{ a: "1", b: "x" }] } }),
  }];
  const commands = (addContact?: (u: BareJid, a: MailAddress, n: string | null) => Promise<AddContactResult>) =>
    new Map(createMailboxChatCommands({ componentDomain: DOMAIN }, { specs, contactName: async () => "Alice Martin",
      mailboxOf: async () => "toto@example.org", ...(addContact ? { addContact } : {}) }).map((c) => [c.word, c]));

  it("settings and set run the settings command: booleans on/off, a list by its values", async () => {
    const c = commands();
    assert.equal(await c.get("settings")!.run(USER, ""), "Settings for toto@example.org:\n  pause: off — Pause delivery\n  digest: never — Digest\n"
      + 'Change one with "set NAME on" or "set NAME off", e.g. "set pause on".');
    assert.equal(await c.get("set")!.run(USER, "pause yes"), "pause: on. Saved.");
    assert.deepEqual([...saved.at(-1)!], [["paused", "1"]]);
    assert.equal(await c.get("set")!.run(USER, "digest daily"), "digest: daily. Saved.");
    assert.equal(await c.get("set")!.run(USER, "digest hourly"), "digest is one of never, daily.");
    assert.equal(saved.length, 2);
  });
  it("an ad-hoc command's fields are the words after it; its table one row a line", async () => {
    const retry = commands().get("retry")!;
    assert.equal(retry.admin, true);
    assert.equal(await retry.run(ADMIN, ""), "Usage: retry ID");
    assert.equal(await retry.run(ADMIN, "42"), "retrying 42\n1  x");
    assert.equal(commands().has("status"), false, "only the specs that exist");
  });
  it("mail says what became of the roster item, honestly", async () => {
    const uri = `xmpp:alice%5C40example.com@${DOMAIN}`;
    assert.equal(await commands().get("mail")!.run(USER, "mailto:alice@example.com"),
      `alice@example.com: ${uri}\nOpen it and write: each message leaves as a mail from toto@example.org.`);
    const said = async (r: AddContactResult) => (await commands(async () => r).get("mail")!.run(USER, "alice@example.com")).split("\n")[2];
    assert.equal(await said("added"), 'Added to your contacts as "Alice Martin".');
    assert.equal(await said("exists"), "It is already in your contacts.");
    assert.match((await said("removed"))!, /removed it from your contacts once, so it was not added again/);
    assert.match((await said("off"))!, /Your settings keep the gateway from adding contacts/);
    assert.match((await said("unavailable"))!, /does not let the gateway add contacts/);
    const failing = commands(async () => { throw new Error("boom"); });
    assert.match(await failing.get("mail")!.run(USER, "alice@example.com"), /could not be added to your contacts just now/);
  });
});
