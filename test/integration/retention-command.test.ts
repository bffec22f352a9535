// "Delete my stored mail" (XEP-0050) from a real @xmpp/client user on a real Prosody
// (docs/design.md §What is stored): it asks for a confirmation, deletes only that user's mail, keeps
// another mailbox's copy of a shared mail and mail still waiting, and says so.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sendMail } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient } from "../support/xmpp-client.ts";

const NS = { commands: "http://jabber.org/protocol/commands", data: "jabber:x:data" };

describe("a user deletes their stored mail", () => {
  let stack: Stack;
  let toto: ChatClient;
  let titi: ChatClient;

  before(async () => {
    stack = await startStack();
    toto = (await stack.user("toto"))!;
    titi = (await stack.user("titi"))!;
  });
  after(async () => {
    await stack?.close();
  });

  const run = async (client: ChatClient, confirm?: string) => {
    const iq = (child: ReturnType<typeof xml>) => xml("iq", { type: "set", to: COMPONENT_DOMAIN }, child);
    const first = (await client.request(iq(xml("command", { xmlns: NS.commands, node: "forget", action: "execute" }))))
      .getChild("command", NS.commands)!;
    assert.equal(first.attrs.status, "executing");
    const form = first.getChild("x", NS.data)!;
    assert.ok(form.getChildren("field").some((f) => f.attrs.var === "confirm" && f.attrs.type === "boolean"), "a confirmation field");
    const fields = confirm === undefined ? [] : [xml("field", { var: "confirm" }, xml("value", {}, confirm))];
    const done = (await client.request(iq(xml("command", { xmlns: NS.commands, node: "forget", sessionid: first.attrs.sessionid, action: "complete" },
      xml("x", { xmlns: NS.data, type: "submit" }, ...fields))))).getChild("command", NS.commands)!;
    assert.equal(done.attrs.status, "completed");
    const note = done.getChild("note")!;
    return { type: note.attrs.type, text: note.getText() };
  };
  const copies = async (address: string) => (await stack.db.query<{ status: string; subject: string }>(
    "SELECT d.status, m.subject FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE lower(d.recipient) = $1 ORDER BY d.id",
    [address])).map((r) => `${r.subject}:${r.status}`);

  it("asks first, then deletes only the user's own copies; shared mail stays the other's, waiting mail stays", async () => {
    await sendMail(stack.gateway.smtpPort, { from: "alice@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "for toto", text: "a" });
    await sendMail(stack.gateway.smtpPort, { from: "bob@example.com", to: `titi@${MAIL_DOMAIN}`, subject: "for titi", text: "b" });
    await sendMail(stack.gateway.smtpPort, { from: "carol@example.com", to: [`toto@${MAIL_DOMAIN}`, `titi@${MAIL_DOMAIN}`], subject: "for both", text: "c" });
    for (const [client, n] of [[toto, 2], [titi, 2]] as const) {
      await waitFor(`${client.jid} got its mail`, () => client.messages.filter((m) => m.getChildText("body")?.startsWith("for ")).length >= n);
    }
    await waitFor("all delivered", async () => (await copies(`toto@${MAIL_DOMAIN}`)).every((c) => c.endsWith(":delivered"))
      && (await copies(`titi@${MAIL_DOMAIN}`)).every((c) => c.endsWith(":delivered")));
    // Paused delivery: this one waits in the queue (docs/design.md §Delivery state machine).
    await stack.db.query("UPDATE mailboxes SET paused = true WHERE address = $1", [`toto@${MAIL_DOMAIN}`]);
    await sendMail(stack.gateway.smtpPort, { from: "dan@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "waiting", text: "d" });
    await waitFor("queued", async () => (await copies(`toto@${MAIL_DOMAIN}`)).includes("waiting:pending"));

    const unconfirmed = await run(toto, "0");
    assert.deepEqual(unconfirmed, { type: "warn", text: "Not confirmed: nothing was deleted." });
    assert.equal((await run(toto)).text, "Not confirmed: nothing was deleted.");
    assert.equal((await copies(`toto@${MAIL_DOMAIN}`)).length, 3);

    const done = await run(toto, "1");
    assert.equal(done.type, "info");
    assert.match(done.text, /Deleted the stored mail of toto@jabber\.test: 2 copies removed \(1 mail gone from the gateway/);
    assert.match(done.text, /1 mail still waiting for delivery was kept/);
    assert.deepEqual(await copies(`toto@${MAIL_DOMAIN}`), ["waiting:pending"]);
    assert.deepEqual(await copies(`titi@${MAIL_DOMAIN}`), ["for titi:delivered", "for both:delivered"], "titi's mail untouched");
    const subjects = (await stack.db.query<{ subject: string }>("SELECT subject FROM messages ORDER BY id")).map((r) => r.subject);
    assert.deepEqual(subjects, ["for titi", "for both", "waiting"], "toto's own mail is gone; the shared one stays as titi's");
  });

  it("the gateway's own pruner clears what is past RETENTION_DAYS at start, and leaves waiting mail alone", async () => {
    await stack.db.query("UPDATE messages SET received_at = now() - interval '31 days'");
    await stack.gateway.stop();
    await stack.gateway.start();
    const rows = () => stack.db.query<{ subject: string; raw: number; pruned: boolean }>(
      "SELECT subject, length(raw) AS raw, pruned_at IS NOT NULL AS pruned FROM messages ORDER BY id");
    await waitFor("the first pass", async () => (await rows()).filter((r) => r.pruned).length === 2);
    assert.deepEqual(await rows(), [{ subject: "for titi", raw: 0, pruned: true }, { subject: "for both", raw: 0, pruned: true },
      { subject: "waiting", raw: (await rows())[2]!.raw, pruned: false }]);
    assert.ok((await rows())[2]!.raw > 0, "the waiting mail keeps its bytes");
    assert.deepEqual(await copies(`toto@${MAIL_DOMAIN}`), ["waiting:pending"]);
  });

  it("an account without a mailbox is told so", async () => {
    await stack.server.register("nobox", "secret");
    const nobox = await connectClient(stack.server.c2sPort, stack.server.domain, "nobox", "secret");
    try {
      assert.deepEqual(await run(nobox, "1"), { type: "error", text: "You have no mailbox on this gateway." });
    } finally {
      await nobox.stop();
    }
  });
});
