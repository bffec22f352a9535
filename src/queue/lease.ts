// Holding a claim's rows while a batch runs (docs/design.md §Delivery state machine): the lease is short and
// renewed every third of it by one guarded UPDATE, so a killed instance's rows come back within seconds; a
// renewal that finds rows lost (the lease ran out and another worker claimed them, or a bounce moved them)
// drops them, and the worker stops working on them.
import type { Logger } from "../log.ts";
import { crashPoint } from "../ops/crash.ts";

export interface LeaseDeps {
  log: Logger;
  /** One guarded UPDATE; resolves with the ids still held under `lease`. */
  renew(lease: string, ids: number[], seconds: number): Promise<number[]>;
}

export interface Hold {
  /** Still ours: not lost at a renewal, and not yet given an outcome. */
  has(id: number): boolean;
  /** Take rows out of the renewal before writing their outcome; returns those still held. */
  settle(ids: number[]): number[];
  /** Stop renewing (after the batch's outcomes); waits for a renewal in flight. */
  stop(): Promise<void>;
}

export function holdLease(config: { leaseSeconds: number; name: string }, deps: LeaseDeps, lease: string, ids: number[]): Hold {
  const held = new Set(ids);
  let renewing: Promise<void> = Promise.resolve();
  let busy = false;
  const renew = async (): Promise<void> => {
    const asked = [...held];
    if (asked.length === 0) return;
    try {
      const kept = new Set(await deps.renew(lease, asked, config.leaseSeconds));
      crashPoint("after-renewal");
      // A row settled while the renewal ran was not lost: its outcome took it out of `held` first.
      const lost = asked.filter((id) => !kept.has(id) && held.has(id));
      for (const id of lost) held.delete(id);
      if (lost.length) deps.log.warn({ loop: config.name, lost }, "lease lost at renewal; these deliveries are no longer ours");
    } catch (err) {
      // Database trouble: the next renewal tries again; if the lease runs out meanwhile, it finds the rows lost.
      deps.log.warn({ loop: config.name, err: (err as Error).message }, "could not renew a lease");
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    renewing = renew().finally(() => { busy = false; });
  }, Math.max(100, (config.leaseSeconds * 1000) / 3));
  return {
    has: (id) => held.has(id),
    settle(some) {
      const out = some.filter((id) => held.has(id));
      for (const id of out) held.delete(id);
      return out;
    },
    async stop() {
      clearInterval(timer);
      await renewing;
    },
  };
}

/** An outcome that changed fewer rows than it named: their lease was lost, another party decides them. */
export function noteLost(log: Logger, what: string, expected: number, changed: number, detail: Record<string, unknown> = {}): void {
  if (changed < expected) log.warn({ ...detail, expected, changed }, `${what}: lease lost, nothing changed for the others`);
}
