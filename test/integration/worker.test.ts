// The inbound worker against the real delivery table (docs/design.md §Delivery state machine): each
// delivery gets its own outcome. The link is scripted, for the faults a real server does not show on cue:
// a link that refuses the second stanza of a batch, a proof that never comes.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../../src/log.ts";
import { createWorker, type Prepared } from "../../src/queue/worker.ts";
import type { ClaimedWithMessage, DeliveryStore } from "../../src/store/deliveries.ts";
import { useQueueDatabase } from "../support/queue-db.ts";
import { waitFor } from "../support/wait.ts";

interface Script {
  prepare?(d: ClaimedWithMessage): Promise<Prepared<ClaimedWithMessage, string>>;
  send?(stanzaId: string): Promise<void>;
  flush?(): Promise<void>;
  /** the link's session number (it grows at each reconnect) */
  session?(): number;
}

describe("the inbound worker, one outcome per delivery", () => {
  const q = useQueueDatabase();
  beforeEach(async () => {
    await q.db.knex("deliveries").delete();
  });

  const rows = async () => (await q.db.knex("deliveries").orderBy("id")
    .select("id", "stanza_id", "status", "attempts", "last_error", "next_attempt_at")) as
    { id: number; stanza_id: string; status: string; attempts: number; last_error: string | null; next_attempt_at: Date }[];

  /** Run the worker with `script` until `until` holds; `sent` records every stanza put on the link. */
  async function run(script: Script, until: () => Promise<boolean>, leaseSeconds = 30): Promise<string[]> {
    const sent: string[] = [];
    const worker = createWorker<ClaimedWithMessage, string>({ id: "w", batchSize: 10, leaseSeconds, pollMs: 100, maxAgeSeconds: 3600 }, {
      log: createLogger("silent"),
      claim: (...a) => q.deliveries.claim(...a),
      prepare: async (batch) => Promise.all(batch.map((d) => script.prepare?.(d) ?? Promise.resolve({ delivery: d, message: d.stanzaId }))),
      send: async (stanzaId) => {
        await script.send?.(stanzaId);
        sent.push(stanzaId);
      },
      flush: async () => script.flush?.(),
      session: () => script.session?.() ?? 1,
      ...bindAll(q.deliveries),
      isOnline: () => true,
      whenOnline: async () => undefined,
      listen: async () => async () => undefined,
    });
    await worker.start();
    try {
      await waitFor("the expected outcome", until, 15_000, 50);
    } finally {
      await worker.stop();
    }
    return sent;
  }
  const bindAll = (s: DeliveryStore) => ({
    renew: s.renew.bind(s), markDelivered: s.markDelivered.bind(s), release: s.release.bind(s),
    retryLater: s.retryLater.bind(s), fail: s.fail.bind(s),
  });

  it("a link that refuses the second stanza gives the whole unproven batch back, without spending attempts", async () => {
    await q.accept(3);
    let refusing = true;
    let refused = 0;
    const second = (await rows())[1]!.stanza_id;
    const sent = await run({
      send: async (id) => {
        if (refusing && id === second) {
          refused++;
          refusing = false; // the link comes back for the next pass
          throw new Error("link down");
        }
      },
    }, async () => (await rows()).every((r) => r.status === "delivered"));
    assert.equal(refused, 1);
    const ids = (await rows()).map((r) => r.stanza_id);
    // The first went out before the link died: unproven, so it is sent again, with the same id.
    assert.deepEqual(sent, [ids[0], ids[0], ids[1], ids[2]]);
    assert.deepEqual((await rows()).map((r) => r.attempts), [1, 1, 1], "the given-back pass was not an attempt");
  });

  it("a proof that never comes gives the sent rows back; they are not marked", async () => {
    await q.accept(2);
    let proofs = 0;
    await run({ flush: async () => { if (proofs++ === 0) throw new Error("ping timed out"); } },
      async () => (await rows()).every((r) => r.status === "delivered"));
    assert.equal(proofs, 2, "marked only after a proof");
    assert.deepEqual((await rows()).map((r) => r.attempts), [1, 1]);
  });

  it("a proof answered after a reconnect proves nothing about the stanzas sent before it: they come back", async () => {
    await q.accept(2);
    let session = 1;
    let proofs = 0;
    const sent = await run({
      // The link drops and comes back between the sends and the ping, which the new stream answers.
      flush: async () => { if (proofs++ === 0) session++; },
      session: () => session,
    }, async () => (await rows()).every((r) => r.status === "delivered"));
    const ids = (await rows()).map((r) => r.stanza_id);
    assert.equal(proofs, 2, "a second batch, proven in its own session");
    assert.deepEqual(sent, [ids[0], ids[1], ids[0], ids[1]], "sent again on the new stream, same ids");
    assert.deepEqual((await rows()).map((r) => r.attempts), [1, 1], "the given-back pass was not an attempt");
  });

  it("a delivery whose preparation fails waits or fails alone; the others are delivered once", async () => {
    await q.accept(4);
    const [, temporary, permanent] = (await rows()).map((r) => r.id);
    const sent = await run({
      prepare: async (d) => d.id === temporary ? { delivery: d, retry: "upload service unavailable" }
        : d.id === permanent ? { delivery: d, error: "could not translate the mail" } : { delivery: d, message: d.stanzaId },
    }, async () => (await rows()).every((r) => ["delivered", "failed"].includes(r.status) || (r.status === "pending" && r.last_error !== null)));
    const after = await rows();
    assert.deepEqual(after.map((r) => r.status), ["delivered", "pending", "failed", "delivered"]);
    assert.equal(after[1]!.last_error, "upload service unavailable");
    assert.equal(after[1]!.attempts, 1, "an attempt was spent");
    assert.ok(after[1]!.next_attempt_at.getTime() > Date.now() + 10_000, "retried later, not at once");
    assert.equal(after[2]!.last_error, "could not translate the mail");
    assert.deepEqual(sent, [after[0]!.stanza_id, after[3]!.stanza_id], "the others exactly once");
  });

  it("a row lost at a renewal during a slow preparation is neither sent nor marked by the worker", async () => {
    await q.accept(2);
    const [lost, kept] = (await rows()).map((r) => r.id);
    let taken: ClaimedWithMessage | undefined;
    const sent = await run({
      prepare: async (d) => {
        if (d.id === lost) {
          // Meanwhile the admin re-drives it and another worker claims it; A's next renewal notices.
          await q.deliveries.retry(lost!);
          [taken] = await q.deliveries.claim("worker-b", 1, 60);
          await sleep(1500); // a slow upload: more than one renewal (every third of the 2 s lease)
        }
        return { delivery: d, message: d.stanzaId };
      },
    }, async () => (await rows()).find((r) => r.id === kept)?.status === "delivered", 2);
    assert.equal(taken?.id, lost);
    const after = await rows();
    assert.deepEqual(sent, [after[1]!.stanza_id], "the lost row was not sent by A");
    assert.equal(after[0]!.status, "sending", "still B's to decide");
    assert.equal(await q.deliveries.markDelivered(taken!.lease, [lost!]), 1, "B's outcome stands");
  });
});
