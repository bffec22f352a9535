// Run a pass again and again: at once while it says more work is waiting, else after a NOTIFY or the
// poll interval (the fallback for a lost LISTEN connection, expired leases and scheduled retries).
import type { Logger } from "../log.ts";

export interface Loop { start(): Promise<void>; stop(): Promise<void> }

export interface LoopDeps {
  log: Logger;
  /** One pass; resolves true when more work is waiting. `signal` aborts at stop. */
  pass(signal: AbortSignal): Promise<boolean>;
  /** Subscribe to "new work" notifications; returns the unsubscribe. */
  listen(wake: () => void): Promise<() => Promise<void>>;
}

export function createLoop(config: { pollMs: number; name: string }, deps: LoopDeps): Loop {
  const abort = new AbortController();
  let wake: (() => void) | null = null;
  let pending = false;
  let running: Promise<void> | null = null;
  let unlisten: (() => Promise<void>) | null = null;

  const notify = () => {
    pending = true;
    wake?.();
  };

  const idle = () => new Promise<void>((resolve) => {
    if (pending || abort.signal.aborted) return resolve();
    const timer = setTimeout(done, config.pollMs);
    function done() {
      clearTimeout(timer);
      wake = null;
      abort.signal.removeEventListener("abort", done);
      resolve();
    }
    wake = done;
    abort.signal.addEventListener("abort", done, { once: true });
  });

  async function run(): Promise<void> {
    while (!abort.signal.aborted) {
      // A notification that arrives during the pass keeps `pending` set: the next idle returns at once.
      pending = false;
      try {
        if (!(await deps.pass(abort.signal))) await idle();
      } catch (err) {
        deps.log.error({ err: (err as Error).message, loop: config.name }, "queue loop error (database?); retrying");
        await idle();
      }
    }
  }

  return {
    async start() {
      try {
        unlisten = await deps.listen(notify);
      } catch (err) {
        deps.log.warn({ err: (err as Error).message, loop: config.name }, "no LISTEN/NOTIFY; polling only");
      }
      running = run();
    },
    async stop() {
      abort.abort();
      await running;
      await unlisten?.().catch(() => undefined);
    },
  };
}
