// The inbound delivery loop: claim a batch in order, send it, prove the server read it, mark it, each
// delivery on its own (docs/design.md §Delivery state machine). At-least-once (invariant 4): a crash
// anywhere leaves rows pending or leased, and leases are short (renewed while the batch runs).
import type { Logger } from "../log.ts";
import { crashPoint } from "../ops/crash.ts";
import { holdLease, noteLost, type Hold } from "./lease.ts";
import { createLoop, type Loop } from "./loop.ts";
import { retryDelaySeconds } from "./retry.ts";

export interface Claimed {
  id: number; jid: string; stanzaId: string; attempts: number; createdAt: Date; delayNotified: boolean;
  /** the claim's lease token (store/delivery-states.ts) */
  lease: string;
}

/**
 * A claimed delivery turned into what goes on the wire; or `error`, the reason it never can be (it fails
 * alone); or `retry`, a temporary reason it cannot be now (it is tried again later, alone).
 */
export type Prepared<T, M> = { delivery: T; message: M } | { delivery: T; error: string } | { delivery: T; retry: string };

export interface WorkerDeps<T extends Claimed, M> {
  log: Logger;
  claim(worker: string, limit: number, leaseSeconds: number): Promise<T[]>;
  /** Read what the batch needs (throws on database trouble: the batch is given back). */
  prepare(batch: T[]): Promise<Prepared<T, M>[]>;
  /** Put one message on the link; throws when the link is down. */
  send(message: M): Promise<void>;
  /** Resolves once the server the component is connected to has read all that was sent before. */
  flush(): Promise<void>;
  /** The link's session (it grows each time the link comes online): a proof counts only in the session of the sends. */
  session(): number;
  renew(lease: string, ids: number[], seconds: number): Promise<number[]>;
  markDelivered(lease: string, ids: number[]): Promise<number>;
  release(lease: string, ids: number[]): Promise<number>;
  retryLater(lease: string, id: number, seconds: number, why: string, notified: boolean): Promise<number>;
  fail(lease: string, id: number, why: string): Promise<number>;
  isOnline(): boolean;
  whenOnline(signal: AbortSignal): Promise<void>;
  /** Subscribe to "new work" notifications; returns the unsubscribe. */
  listen(wake: () => void): Promise<() => Promise<void>>;
}

export interface WorkerConfig {
  id: string;
  batchSize: number;
  leaseSeconds: number;
  /** Polling fallback when no notification arrives (lost LISTEN connection, expired leases, retries). */
  pollMs: number;
  /** A delivery that cannot be prepared for longer than this fails. */
  maxAgeSeconds: number;
  schedule?: readonly number[];
}

export function createWorker<T extends Claimed, M>(config: WorkerConfig, deps: WorkerDeps<T, M>): Loop {
  const { log } = deps;

  /** A delivery that could not be prepared: it alone fails, or waits for a later attempt. */
  async function prepareFailed(lease: string, hold: Hold, d: T, why: string, temporary: boolean): Promise<void> {
    if (hold.settle([d.id]).length === 0) return;
    const expired = Date.now() - d.createdAt.getTime() > config.maxAgeSeconds * 1000;
    if (temporary && !expired) {
      const delay = retryDelaySeconds(d.attempts, config.schedule);
      noteLost(log, "retry later", 1, await deps.retryLater(lease, d.id, delay, why, d.delayNotified), { delivery: d.id });
      log.warn({ delivery: d.id, retryIn: delay, reason: why }, "delivery could not be prepared; tried again later");
    } else {
      noteLost(log, "fail", 1, await deps.fail(lease, d.id, why), { delivery: d.id });
      log.warn({ delivery: d.id, reason: why }, "delivery failed");
    }
  }

  /** Give unproven rows back, to be sent again in order with the same stanza ids: not an attempt. */
  async function giveBack(lease: string, hold: Hold, rows: T[], why: string): Promise<void> {
    const ids = hold.settle(rows.map((d) => d.id));
    if (ids.length === 0) return;
    log.warn({ err: why, count: ids.length }, "deliveries not confirmed; returned to the queue");
    // If even this fails (database), the lease runs out and another claim takes them.
    await deps.release(lease, ids).catch((err: Error) => log.warn({ err: err.message }, "could not release deliveries"));
  }

  async function deliver(batch: T[], lease: string, hold: Hold): Promise<void> {
    let prepared: Prepared<T, M>[];
    try {
      prepared = await deps.prepare(batch);
    } catch (err) {
      return giveBack(lease, hold, batch, (err as Error).message);
    }
    const sent: T[] = [];
    const session = deps.session();
    for (let i = 0; i < prepared.length; i++) {
      const item = prepared[i]!;
      const d = item.delivery;
      if (!hold.has(d.id)) continue; // lost at a renewal: another worker has it
      if ("error" in item || "retry" in item) {
        await prepareFailed(lease, hold, d, "error" in item ? item.error : item.retry, "retry" in item);
        continue;
      }
      try {
        await deps.send(item.message);
      } catch (err) {
        // The link refused it (down): what went before is unproven, what comes after unsent. All of it
        // comes back and is sent again on the next link (same stanza ids: at least once, invariant 4).
        return giveBack(lease, hold, [...sent, ...prepared.slice(i).map((p) => p.delivery)], (err as Error).message);
      }
      sent.push(d);
      if (sent.length === 1) crashPoint("inside-batch");
    }
    crashPoint("after-xmpp-send");
    if (sent.length === 0) return;
    try {
      // One ping to the server we are connected to proves every stanza before it was read (RFC 6120 §10.1:
      // a stream is ordered); what happens beyond it (s2s, a far server) comes back as a bounce, per delivery.
      await deps.flush();
    } catch (err) {
      return giveBack(lease, hold, sent, (err as Error).message);
    }
    // A ping answered on a newer stream proves nothing about stanzas written to an older one.
    if (deps.session() !== session) return giveBack(lease, hold, sent, "the link was reconnected before the proof");
    const ids = hold.settle(sent.map((d) => d.id));
    noteLost(log, "mark delivered", ids.length, await deps.markDelivered(lease, ids));
    const marked = new Set(ids);
    for (const d of sent) {
      if (marked.has(d.id)) log.info({ delivery: d.id, stanzaId: d.stanzaId, jid: d.jid, attempt: d.attempts }, "delivered to xmpp");
    }
  }

  async function runOnce(): Promise<number> {
    const batch = await deps.claim(config.id, config.batchSize, config.leaseSeconds);
    if (batch.length === 0) return 0;
    const lease = batch[0]!.lease;
    const hold = holdLease({ leaseSeconds: config.leaseSeconds, name: "xmpp delivery" }, deps, lease, batch.map((d) => d.id));
    try {
      await deliver(batch, lease, hold);
    } finally {
      await hold.stop();
    }
    return batch.length;
  }

  return createLoop({ pollMs: config.pollMs, name: "xmpp delivery" }, {
    log,
    listen: deps.listen,
    async pass(signal) {
      // Nothing is claimed while the link is down: the rows wait, in order, without spending attempts.
      if (!deps.isOnline()) {
        await deps.whenOnline(signal);
        return true;
      }
      return (await runOnce()) >= config.batchSize;
    },
  });
}
