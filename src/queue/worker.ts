// The inbound delivery loop: claim a batch in order, send it, prove the server read it, mark it.
// At-least-once (invariant 4): a crash anywhere leaves rows pending or leased, and leases expire.
import type { Logger } from "../log.ts";
import { crashPoint } from "../ops/crash.ts";
import { createLoop, type Loop } from "./loop.ts";

export interface Claimed { id: number; jid: string; stanzaId: string; attempts: number }

/** A claimed delivery turned into what goes on the wire, or the reason it never can be. */
export type Prepared<T, M> = { delivery: T; message: M } | { delivery: T; error: string };

export interface WorkerDeps<T extends Claimed, M> {
  log: Logger;
  claim(worker: string, limit: number, leaseSeconds: number): Promise<T[]>;
  /** Read what the batch needs (throws on database trouble: the batch is given back). */
  prepare(batch: T[]): Promise<Prepared<T, M>[]>;
  /** Put one message on the link; throws when the link is down (then the batch is given back). */
  send(message: M): Promise<void>;
  /** Resolves once the server has read all that was sent to `jid`'s server. */
  flush(jid: string): Promise<void>;
  markDelivered(worker: string, ids: number[]): Promise<unknown>;
  release(worker: string, ids: number[]): Promise<void>;
  /** A delivery that can never be sent (its message is gone or cannot be translated): it fails alone. */
  fail(id: number, why: string): Promise<void>;
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
}

export function createWorker<T extends Claimed, M>(config: WorkerConfig, deps: WorkerDeps<T, M>): Loop {
  const { log } = deps;

  async function runOnce(): Promise<number> {
    const batch = await deps.claim(config.id, config.batchSize, config.leaseSeconds);
    if (batch.length === 0) return 0;
    const sent: T[] = [];
    try {
      for (const item of await deps.prepare(batch)) {
        if ("error" in item) {
          await deps.fail(item.delivery.id, item.error);
          continue;
        }
        await deps.send(item.message);
        sent.push(item.delivery);
      }
      crashPoint("after-xmpp-send");
      const domains = new Set(sent.map((d) => d.jid.slice(d.jid.indexOf("@") + 1)));
      for (const domain of domains) await deps.flush(domain);
    } catch (err) {
      // The link went down mid-batch: nothing here is known to be delivered. Give it all back,
      // to be sent again in order after reconnect (same stanza ids: duplicates are recognisable).
      log.warn({ err: (err as Error).message, count: batch.length }, "batch not confirmed; deliveries returned to the queue");
      await deps.release(config.id, batch.map((d) => d.id)).catch(() => undefined); // else the lease expires
      return 0;
    }
    await deps.markDelivered(config.id, sent.map((d) => d.id));
    for (const d of sent) log.info({ delivery: d.id, stanzaId: d.stanzaId, jid: d.jid, attempt: d.attempts }, "delivered to xmpp");
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
