// Crashes at chosen points (PASSERELLE_CRASH_AT: the gateway SIGKILLs itself there) and poison deliveries:
// nothing answered 250 is lost, duplicates are recognisable, one bad delivery never blocks the others.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { checkNothingLost, tokenOf } from "../support/invariants.ts";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { buildMail, sendRaw } from "../support/smtp.ts";
import { contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";
const mail = (subject: string) => buildMail({ From: "alice@example.com", To: `toto@${MAIL_DOMAIN}`, Subject: subject }, "x\r\n");

describe("crashes at chosen points lose nothing", () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  const accepted: string[] = [];

  before(async () => {
    relay = await startRelaySink();
    // Short leases: rows a crashed worker held come back within seconds, not minutes.
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, QUEUE_LEASE_SECONDS: "2",
      SEND_LIMIT_PER_MINUTE: "0" } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    assert.deepEqual(await checkNothingLost(stack.db, accepted), []);
    await stack?.close();
    await relay?.stop();
  });

  /** Restart the gateway armed to crash at `point`; `act` must bring it there; then restart it clean. */
  async function crashAt(point: string, act: () => Promise<void>): Promise<void> {
    await stack.gateway.stop();
    stack.gateway.env.PASSERELLE_CRASH_AT = point;
    await stack.gateway.start();
    await act();
    assert.equal(await stack.gateway.exited(), null, "killed by its own SIGKILL");
    delete stack.gateway.env.PASSERELLE_CRASH_AT;
    await stack.gateway.start();
  }

  it("after the commit, before the 250: the sender retries; both copies are delivered, none lost", async () => {
    await crashAt("after-commit", async () => {
      const first = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], mail("commit crash"))
        .catch((err: Error) => ({ data: null, err }));
      assert.equal(tokenOf(first.data), null, "no 250 was written");
    });
    const retry = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], mail("commit crash"));
    const token = tokenOf(retry.data);
    assert.ok(token, retry.data?.text);
    accepted.push(token);
    await waitFor("both copies delivered", () => toto.messages.filter((m) => body(m).startsWith("commit crash")).length === 2, 30_000);
    await waitFor("both rows marked delivered", async () => (await stack.db.query(
      "SELECT 1 FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE m.subject = 'commit crash' AND d.status = 'delivered'")).length === 2);
  });

  it("after the stanzas left, before they were marked: sent again with the same id once the lease runs out", async () => {
    let token: string | null = null;
    await crashAt("after-xmpp-send", async () => {
      const r = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], mail("send crash"));
      token = tokenOf(r.data);
      assert.ok(token, "250 before the crash");
      accepted.push(token);
    });
    await waitFor("marked delivered after the restart", async () => (await stack.db.query(
      "SELECT 1 FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE m.token = $1 AND d.status = 'delivered'", [token])).length === 1, 30_000);
    const copies = toto.messages.filter((m) => body(m).startsWith("send crash"));
    assert.ok(copies.length >= 1, "delivered");
    const [row] = await stack.db.query<{ stanza_id: string }>(
      "SELECT d.stanza_id FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE m.token = $1", [token]);
    assert.deepEqual([...new Set(copies.map((m) => m.attrs.id))], [row!.stanza_id], "every copy carries the same stable id");
  });

  it("after the relay took a mail, before it was marked: sent again with the same Message-ID, then done", async () => {
    await crashAt("after-relay-send", async () => {
      await toto.send(xml("message", { type: "chat", to: contactJid("alice@example.com"), id: "c1" }, xml("body", {}, "relay crash")));
      await waitFor("the relay has it", () => relay.relayed.some((r) => r.to.includes("alice@example.com")));
    });
    await waitFor("marked delivered after the restart", async () => (await stack.db.query(
      "SELECT 1 FROM deliveries WHERE direction = 'outbound' AND recipient = 'alice@example.com' AND status = 'delivered'")).length === 1, 30_000);
    const copies = await Promise.all(relay.relayed.filter((r) => r.to.includes("alice@example.com")).map((r) => simpleParser(r.raw)));
    assert.ok(copies.length >= 2, "at least once: sent again after the crash");
    assert.equal(new Set(copies.map((c) => c.messageId)).size, 1, "receivers can drop the duplicate by Message-ID");
  });

  it("a mail the relay always refuses fails alone with the relay's words; the next one leaves", async () => {
    relay.refuseOnly.set("poison@example.com", { code: 554, text: "5.7.1 poison refused" });
    await toto.send(xml("message", { type: "chat", to: contactJid("poison@example.com"), id: "p1" }, xml("body", {}, "poison")));
    await toto.send(xml("message", { type: "chat", to: contactJid("fine@example.com"), id: "p2" }, xml("body", {}, "fine")));
    await waitFor("the next mail at the relay", () => relay.relayed.some((r) => r.to.includes("fine@example.com")));
    const [row] = await waitFor("the poison failed", async () => (await stack.db.query<{ status: string; last_error: string }>(
      "SELECT status, last_error FROM deliveries WHERE recipient = 'poison@example.com' AND status = 'failed'")));
    assert.match(row!.last_error, /poison refused/);
  });
});
