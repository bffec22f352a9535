// What one party can send the gateway in bulk (docs/design.md §Budgets): a flood of 3,000 subscription
// requests from one account keeps the link up and mail flowing, is asked back at most once and leaves at
// most one row (none without a mailbox); iq and message floods are answered, each stanza, in words.
// Real Prosody, real clients, the gateway as a process. Remote senders share the per-domain budget
// (unit-tested in test/unit/core/stanza-budget.test.ts): on loopback a second local account floods.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { sendMail } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const FLOOD = 3000;
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

const VARIANTS: { title: string; env: Record<string, string>; refusedBy: string; all: boolean }[] = [
  { title: "presence and stanza budgets (defaults)", env: {}, refusedBy: "subscriptions", all: true },
  { title: "with every rate off, the bounded queues alone hold a flood", all: false, refusedBy: "queue",
    env: { XMPP_SENDER_PER_MINUTE: "0", XMPP_SUBSCRIPTIONS_PER_MINUTE: "0", XMPP_DOMAIN_PER_MINUTE: "0" } },
];

for (const variant of VARIANTS) describe(variant.title, () => {
  let stack: Stack;
  let toto: ChatClient;

  before(async () => {
    // A short keep-alive: a ping the server cannot answer within 5 s during the flood drops the link.
    stack = await startStack({ gatewayEnv: { XMPP_KEEPALIVE_SECONDS: "5", ...variant.env } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
  });

  /** The metrics page as name{labels} → value. */
  async function scrape(): Promise<Map<string, number>> {
    const res = await fetch(`http://127.0.0.1:${stack.gateway.httpPort}/metrics`);
    return new Map((await res.text()).split("\n").filter((l) => l && !l.startsWith("#"))
      .map((l) => [l.slice(0, l.lastIndexOf(" ")), Number(l.slice(l.lastIndexOf(" ") + 1))]));
  }
  /** Presence stanzas the gateway has seen (accepted or refused by a budget), and those accepted not yet handled. */
  const presenceSeen = async () => {
    const found = [...(await scrape())]
      .filter(([k]) => k.startsWith("passerelle_xmpp_stanzas_total{") && k.includes('kind="presence"'));
    presenceMetrics = found.map(([k, v]) => `${k} ${v}`);
    const count = (outcome: string) => found.find(([k]) => k.includes(`outcome="${outcome}"`))?.[1] ?? 0;
    return { seen: found.reduce((sum, [k, v]) => sum + (k.includes('outcome="handled"') ? 0 : v), 0),
      unhandled: count("accepted") - count("handled") };
  };

  let presenceMetrics: string[] = [];
  /** Polls /healthz until `stop`; resolves with every answer's link state (what a request failed with). */
  function watchHealth(stop: AbortSignal): Promise<string[]> {
    return (async () => {
      const seen: string[] = [];
      while (!stop.aborted) {
        // The link's state is asserted, not how fast it is told (the test machine is shared).
        seen.push(await fetch(`http://127.0.0.1:${stack.gateway.httpPort}/healthz`, { signal: AbortSignal.timeout(30_000) })
          .then(async (res) => String(((await res.json()) as { xmpp?: string }).xmpp), (err: Error) => `no answer: ${err.message}`));
        await sleep(200);
      }
      return seen;
    })();
  }

  /** Answers every subscription request from `from` with a denial, so the server would pass on any repeat. */
  function denyRequests(client: ChatClient, from: string, stop: AbortSignal): { denied: () => number } {
    let denied = 0;
    let next = 0;
    void (async () => {
      while (!stop.aborted) {
        for (; next < client.presences.length; next++) {
          const p = client.presences[next]!;
          if (p.attrs.type === "subscribe" && p.attrs.from?.split("/")[0] === from) {
            denied++;
            await client.send(xml("presence", { type: "unsubscribed", to: from }));
          }
        }
        await sleep(50);
      }
    })();
    return { denied: () => denied };
  }

  /** A client that has asked for its roster: the server passes it subscription answers (RFC 6121 §3.1.6). */
  const interested = (client: ChatClient) => client.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));

  const subscribesFrom = (client: ChatClient, from: string) =>
    client.presences.filter((p) => p.attrs.type === "subscribe" && p.attrs.from?.split("/")[0] === from).length;

  it("3,000 subscription requests from one account: link up, mail flows, one ask back, one row, nothing accepted lost", async () => {
    const eve = (await stack.user("eve"))!;
    await interested(eve);
    const alice = contactJid("alice@example.com");
    const seenBefore = (await presenceSeen()).seen;
    const stop = new AbortController();
    const health = watchHealth(stop.signal);
    const deny = denyRequests(eve, alice, stop.signal);
    try {
      // Pipelined: written to the socket without waiting for anything in between.
      const flood = Promise.all(Array.from({ length: FLOOD }, () => eve.send(xml("presence", { type: "subscribe", to: alice }))));
      await sendMail(stack.gateway.smtpPort, { from: "bob@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "during the flood", text: "still here" });
      await flood;
      await toto.waitForMessage((m) => (m.getChildText("body") ?? "").includes("during the flood"), "the mail sent during the flood", 60_000);
      // Every stanza the flooder sent (and each denial) reached the gateway, and each one accepted was handled.
      let seen = 0;
      await waitFor("every presence stanza accepted or refused, and every accepted one handled", async () => {
        const now = await presenceSeen();
        seen = now.seen - seenBefore;
        return seen >= FLOOD + deny.denied() && now.unhandled === 0;
      }, 60_000, 250).catch((err: Error) => assert.fail(`${err.message}: ${seen} of ${FLOOD} + ${deny.denied()}; ${presenceMetrics.join(", ")}`));
      await eve.waitForPresence((p) => p.attrs.from === alice && p.attrs.type === "subscribed", "the request approved");
      await sleep(1000); // any late ask back would arrive meanwhile
    } finally {
      stop.abort();
    }
    const states = await health;
    assert.ok(states.length > 3, "healthz was polled during the flood");
    assert.deepEqual(states.filter((s) => s !== "online"), [], "healthz said online throughout");
    assert.doesNotMatch(stack.gateway.output(), /xmpp link lost|stopped answering pings/);
    assert.equal(subscribesFrom(eve, alice), 1, "asked back once, though each request was denied");
    const rows = await stack.db.query("SELECT * FROM subscriptions WHERE user_jid = $1", [eve.jid]);
    assert.equal(rows.length, 1);
    const metrics = await scrape();
    assert.ok((metrics.get(`passerelle_xmpp_stanzas_total{kind="presence",outcome="${variant.refusedBy}"}`) ?? 0) > 0,
      `the ${variant.refusedBy} budget refused part of the flood`);
  });

  if (!variant.all) return;

  it("3,000 subscription requests from an account without a mailbox: answered, never remembered, never asked back", async () => {
    await stack.server.register("mallory", "secret");
    const mallory = await connectClient(stack.server.c2sPort, stack.server.domain, "mallory", "secret");
    await interested(mallory);
    const alice = contactJid("alice@example.com");
    try {
      const seenBefore = (await presenceSeen()).seen;
      // To the gateway and to a contact, in turn.
      await Promise.all(Array.from({ length: FLOOD }, (_, i) =>
        mallory.send(xml("presence", { type: "subscribe", to: i % 2 ? alice : COMPONENT_DOMAIN }))));
      await waitFor("every presence stanza accepted or refused, and every accepted one handled", async () => {
        const now = await presenceSeen();
        return now.seen - seenBefore >= FLOOD && now.unhandled === 0;
      }, 60_000, 250).catch((err: Error) => assert.fail(`${err.message}: ${presenceMetrics.join(", ")}`));
      // The gateway's own presence is public: approved. A contact's is refused to a JID that cannot write.
      await mallory.waitForPresence((p) => p.attrs.from === COMPONENT_DOMAIN && p.attrs.type === "subscribed", "the gateway approves");
      await mallory.waitForPresence((p) => p.attrs.from === alice && p.attrs.type === "unsubscribed", "the contact refuses");
      await sleep(1000);
      assert.equal(subscribesFrom(mallory, COMPONENT_DOMAIN) + subscribesFrom(mallory, alice), 0, "never asked back");
      assert.equal((await stack.db.query("SELECT * FROM subscriptions WHERE user_jid = $1", [mallory.jid])).length, 0);
    } finally {
      await mallory.stop();
    }
  });

  it("an iq flood: every request answered, those over budget with resource-constraint in words", async () => {
    const ivan = (await stack.user("ivan"))!;
    const alice = contactJid("alice@example.com");
    const n = 500;
    const answers = await Promise.all(Array.from({ length: n }, () =>
      ivan.request(xml("iq", { type: "get", to: alice }, xml("vCard", { xmlns: "vcard-temp" })), 60_000)
        .then(() => "result", (err: { condition?: string; text?: string }) => `${err.condition}: ${err.text ?? ""}`)));
    const refused = answers.filter((a) => a.startsWith("resource-constraint: "));
    assert.equal(answers.filter((a) => a === "result").length + refused.length, n, `other answers: ${[...new Set(answers)].join(" | ")}`);
    assert.ok(refused.length > 0, "part of the flood was refused");
    assert.ok(refused.every((a) => /stanzas|earlier|busy/.test(a)), refused[0]);
    // The budget is per sender: another account is served at once.
    const card = await toto.request(xml("iq", { type: "get", to: alice }, xml("vCard", { xmlns: "vcard-temp" })));
    assert.ok(card.getChild("vCard", "vcard-temp"));
  });

  it("a message flood to a contact: every message with words answered, the refused ones with resource-constraint", async () => {
    // No relay in this stack: every message the budget lets through is refused service-unavailable.
    const mia = (await stack.user("mia"))!;
    const alice = contactJid("alice@example.com");
    const n = 500;
    await Promise.all(Array.from({ length: n }, (_, i) =>
      mia.send(xml("message", { type: "chat", to: alice, id: `m${i}` }, xml("body", {}, `hello ${i}`)))));
    const errors = () => mia.messages.filter((m) => m.attrs.type === "error" && m.attrs.from === alice);
    await waitFor("an answer to every message", () => errors().length >= n, 60_000, 100);
    await sleep(500);
    const conditions = errors().map((m) => m.getChild("error")?.getChildElements().find((c) => c.attrs.xmlns === STANZAS)?.name);
    assert.equal(conditions.length, n, "exactly one answer a message");
    assert.equal(new Set(errors().map((m) => m.attrs.id)).size, n, "each message answered once");
    const constrained = errors().filter((m: Element) => m.getChild("error")?.getChild("resource-constraint", STANZAS));
    assert.ok(constrained.length > 0 && constrained.length < n, `${constrained.length} of ${n} refused by the budget`);
    assert.match(constrained[0]!.getChild("error")!.getChildText("text", STANZAS) ?? "", /stanzas in a minute|earlier/);
  });
});
