// Crashes at chosen points (PASSERELLE_CRASH_AT: the gateway SIGKILLs itself there) and poison deliveries:
// nothing answered 250 is lost, the short renewed lease brings a killed instance's work back within seconds,
// duplicates are recognisable and counted (at most what was in flight at the kill), one bad delivery never
// blocks the others.
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

/** Copies beyond the first, per stable id: what a crash made us send twice (receivers drop them by id). */
const duplicates = (ids: string[]) => ids.length - new Set(ids).size;

describe("crashes at chosen points lose nothing", () => {
  let stack: Stack;
  let relay: RelaySink;
  let toto: ChatClient;
  let others: ChatClient[];
  const accepted: string[] = [];

  before(async () => {
    relay = await startRelaySink();
    // Short leases (renewed every second): rows a killed worker held come back within seconds.
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, QUEUE_LEASE_SECONDS: "3",
      SEND_LIMIT_PER_MINUTE: "0" } });
    toto = (await stack.user("toto"))!;
    others = [(await stack.user("titi"))!, (await stack.user("tata"))!];
  });
  after(async () => {
    assert.deepEqual(await checkNothingLost(stack.db, accepted), []);
    await stack?.close();
    await relay?.stop();
  });

  /**
   * Restart the gateway armed to crash at `point`; `act` must bring it there; then restart it clean (also
   * when `act` fails, so one failure does not leave the next test an armed gateway). Resolves with the
   * deliveries of `inFlight` (a condition on `d` and `m`) in flight at the kill: still leased, "sending".
   */
  async function crashAt(point: string, act: () => Promise<void>, inFlight = "true", ...params: unknown[]): Promise<number> {
    await stack.gateway.stop();
    stack.gateway.env.PASSERELLE_CRASH_AT = point;
    await stack.gateway.start();
    try {
      await act();
      assert.equal(await stack.gateway.exited(), null, "killed by its own SIGKILL");
      const [{ n }] = await stack.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries d JOIN messages m
        ON m.id = d.message_id WHERE d.status = 'sending' AND ${inFlight}`, params) as [{ n: number }];
      return n;
    } finally {
      delete stack.gateway.env.PASSERELLE_CRASH_AT;
      await stack.gateway.stop();
      await stack.gateway.start();
    }
  }

  /**
   * Accept a mail while its recipients' delivery is paused, so the 250 is written before the worker can
   * reach the crash point; then let the worker take it.
   */
  async function acceptHeld(recipients: string[], subject: string): Promise<string> {
    await stack.db.query("UPDATE mailboxes SET paused = true WHERE address = ANY($1)", [recipients]);
    const r = await sendRaw(stack.gateway.smtpPort, "alice@example.com", recipients,
      buildMail({ From: "alice@example.com", To: recipients.join(", "), Subject: subject }, "x\r\n"));
    const token = tokenOf(r.data);
    assert.ok(token, "250 before the crash");
    accepted.push(token);
    await stack.db.query("UPDATE mailboxes SET paused = false WHERE address = ANY($1)", [recipients]);
    return token;
  }

  const delivered = (where: string, ...params: unknown[]) => async () => (await stack.db.query(
    `SELECT 1 FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE ${where} AND d.status = 'delivered'`, params)).length;

  it("after the commit, before the 250: the sender retries; both copies are delivered, none lost", async () => {
    await crashAt("after-commit", async () => {
      const first = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], mail("commit crash"))
        .catch((err: Error) => ({ data: null, err }));
      assert.equal(tokenOf(first.data), null, "no 250 was written");
    });
    // In flight at the kill: the one mail committed without its 250.
    const unanswered = (await stack.db.query("SELECT 1 FROM messages WHERE subject = 'commit crash'")).length;
    assert.equal(unanswered, 1);
    const retry = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], mail("commit crash"));
    const token = tokenOf(retry.data);
    assert.ok(token, retry.data?.text);
    accepted.push(token);
    await waitFor("both rows marked delivered", async () => (await delivered("m.subject = 'commit crash'")()) === 2, 30_000);
    const copies = toto.messages.filter((m) => body(m).startsWith("commit crash"));
    assert.equal(copies.length, 2, "the sender's retry is the only extra copy");
    assert.ok(copies.length - 1 <= unanswered);
  });

  it("after the stanzas left, before they were marked: sent again with the same id once the short lease runs out", async () => {
    let token = "";
    const inFlight = await crashAt("after-xmpp-send", async () => {
      token = await acceptHeld([`toto@${MAIL_DOMAIN}`], "send crash");
    }, "m.subject = 'send crash'");
    assert.equal(inFlight, 1, "the batch was leased at the kill");
    await waitFor("marked delivered after the restart", delivered("m.token = $1", token), 30_000);
    const copies = toto.messages.filter((m) => body(m).startsWith("send crash"));
    assert.ok(copies.length >= 1, "delivered");
    const [row] = await stack.db.query<{ stanza_id: string }>(
      "SELECT d.stanza_id FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE m.token = $1", [token]);
    assert.deepEqual([...new Set(copies.map((m) => m.attrs.id))], [row!.stanza_id], "every copy carries the same stable id");
    assert.ok(duplicates(copies.map((m) => m.attrs.id as string)) <= inFlight, `${copies.length} copies for ${inFlight} in flight`);
  });

  it("inside a batch, after its first stanza: each recipient gets the mail, duplicates at most what was in flight", async () => {
    let token = "";
    const inFlight = await crashAt("inside-batch", async () => {
      token = await acceptHeld(["toto", "titi", "tata"].map((u) => `${u}@${MAIL_DOMAIN}`), "batch crash");
    }, "m.subject = 'batch crash'");
    assert.equal(inFlight, 3, "one batch of three, leased at the kill");
    await waitFor("all three marked delivered after the restart", async () => (await delivered("m.token = $1", token)()) === 3, 30_000);
    const ids = [toto, ...others].flatMap((c) => c.messages.filter((m) => body(m).startsWith("batch crash")).map((m) => m.attrs.id as string));
    const rows = await stack.db.query<{ stanza_id: string }>(
      "SELECT d.stanza_id FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE m.token = $1", [token]);
    assert.deepEqual([...new Set(ids)].sort(), rows.map((r) => r.stanza_id).sort(), "everyone has it, by its stable id");
    assert.ok(duplicates(ids) <= inFlight, `${ids.length} copies for ${inFlight} in flight`);
  });

  it("after the relay took a mail, before it was marked: sent again with the same Message-ID, then done", async () => {
    const inFlight = await crashAt("after-relay-send", async () => {
      await toto.send(xml("message", { type: "chat", to: contactJid("alice@example.com"), id: "c1" }, xml("body", {}, "relay crash")));
      await waitFor("the relay has it", () => relay.relayed.some((r) => r.to.includes("alice@example.com")));
    }, "d.recipient = 'alice@example.com'");
    assert.equal(inFlight, 1);
    await waitFor("marked delivered after the restart", async () => (await stack.db.query(
      "SELECT 1 FROM deliveries WHERE direction = 'outbound' AND recipient = 'alice@example.com' AND status = 'delivered'")).length === 1, 30_000);
    const copies = await Promise.all(relay.relayed.filter((r) => r.to.includes("alice@example.com")).map((r) => simpleParser(r.raw)));
    assert.ok(copies.length >= 2, "at least once: sent again after the crash");
    assert.equal(new Set(copies.map((c) => c.messageId)).size, 1, "receivers can drop the duplicate by Message-ID");
    assert.ok(duplicates(copies.map((c) => c.messageId!)) <= inFlight, `${copies.length} copies for ${inFlight} in flight`);
  });

  it("after a renewal, while a slow relay holds a mail: the mail comes back and leaves, duplicates at most what was in flight", async () => {
    relay.answerDelayMs = 4000; // longer than a third of the lease: the relay pass renews it meanwhile
    try {
      const inFlight = await crashAt("after-renewal", async () => {
        await toto.send(xml("message", { type: "chat", to: contactJid("slow@example.com"), id: "r1" }, xml("body", {}, "renewal crash")));
      }, "d.recipient = 'slow@example.com'");
      assert.equal(inFlight, 1);
      relay.answerDelayMs = 0;
      await waitFor("marked delivered after the restart", async () => (await stack.db.query(
        "SELECT 1 FROM deliveries WHERE direction = 'outbound' AND recipient = 'slow@example.com' AND status = 'delivered'")).length === 1, 30_000);
      const copies = await Promise.all(relay.relayed.filter((r) => r.to.includes("slow@example.com")).map((r) => simpleParser(r.raw)));
      assert.ok(copies.length >= 1);
      assert.equal(new Set(copies.map((c) => c.messageId)).size, 1);
      assert.ok(duplicates(copies.map((c) => c.messageId!)) <= inFlight, `${copies.length} copies for ${inFlight} in flight`);
    } finally {
      relay.answerDelayMs = 0;
    }
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
