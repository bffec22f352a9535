// Run a pass again and again: at once while it finds work, else after a NOTIFY or the poll interval.
import type { Logger } from "../log.ts";

export function createLoop(config: { pollMs: number; name: string }, deps: {
  log: Logger; pass(): Promise<number>; listen(wake: () => void): Promise<() => Promise<void>>;
}) {
  const abort = new AbortController();
  let wake: (() => void) | null = null;
  let pending = false;
  let running: Promise<void> | null = null;
  let unlisten: (() => Promise<void>) | null = null;
  const notify = () => { pending = true; wake?.(); };
  const idle = () => new Promise<void>((resolve) => {
    if (pending || abort.signal.aborted) return resolve();
    const done = () => { clearTimeout(timer); wake = null; resolve(); };
    const timer = setTimeout(done, config.pollMs);
    wake = done;
    abort.signal.addEventListener("abort", done, { once: true });
  });
  async function run() {
    while (!abort.signal.aborted) {
      pending = false;
      try {
        if ((await deps.pass()) === 0) await idle();
      } catch (err) {
        deps.log.error({ err: (err as Error).message, loop: config.name }, "queue loop error; retrying");
        await idle();
      }
    }
  }
  return {
    async start() {
      unlisten = await deps.listen(notify).catch(() => null);
      running = run();
    },
    async stop() {
      abort.abort();
      await running;
      await unlisten?.().catch(() => undefined);
    },
  };
}
