// Runs the role state machine (ops/role.ts): a standby tries the link lock every `retryMs`; the holder
// checks its lock's session every `checkMs` and closes its link at once when the session is gone
// (docs/design.md §Several instances). One event at a time; no timer is left once stopped.
import type { Logger } from "../log.ts";
import type { LinkLock } from "../store/link-lock.ts";
import { INITIAL_ROLE, nextRole, type Role, type RoleEvent } from "./role.ts";

/** What the holder runs: the XMPP link and the inbound worker. */
export interface Term {
  /** `lost`: close the link first, at once, then the worker; `shutdown`: let the worker finish its batch first. */
  stop(reason: "lost" | "shutdown"): Promise<void>;
}

export interface RoleKeeperConfig {
  retryMs: number;
  checkMs: number;
  /** The lock's session must answer a check within this. */
  checkTimeoutMs: number;
  /** After the link could not be opened, the lock is given back and tried again only after this. */
  failedRetryMs: number;
}

export interface RoleKeeperDeps {
  log: Logger;
  /** The lock, told how to report that its session ended by itself. */
  lock(onLost: () => void): LinkLock;
  /** Open the link and start the worker; `first`: at the process's start, where a configuration error must stop it. */
  open(first: boolean): Promise<Term>;
  onRole?(role: Role): void;
}

export interface RoleKeeper {
  /** Try the lock once, and open the link if it is ours; rejects when `open` does at this first try. */
  start(): Promise<void>;
  role(): Role;
  stop(): Promise<void>;
}

export function createRoleKeeper(config: RoleKeeperConfig, deps: RoleKeeperDeps): RoleKeeper {
  const { log } = deps;
  let role: Role = INITIAL_ROLE;
  let term: Term | null = null;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  /** The wait before the next tick when it is not the role's usual one. */
  let pause: number | undefined;
  const lock = deps.lock(() => void serial(async () => {
    await apply("lost");
    schedule();
  }));

  /** Events and ticks run one after the other. */
  const serial = (step: () => Promise<void>): Promise<void> => {
    const run = chain.then(step);
    chain = run.catch(() => undefined);
    return run;
  };

  async function apply(event: RoleEvent, first = false): Promise<void> {
    const before = role;
    const { role: after, action } = nextRole(role, event);
    role = after;
    if (action === "close") {
      const ending = term;
      term = null;
      if (event !== "stop") {
        log.warn({ event }, "the XMPP link lock is no longer ours: closing the link; standby");
        // The instance that lost its session waits a little longer than the others, so a healthy one takes over.
        pause ??= 2 * config.retryMs;
      }
      await ending?.stop(event === "stop" ? "shutdown" : "lost").catch((err: Error) => log.error({ err: err.message }, "error while closing the link"));
      await lock.release();
    }
    if (action === "open") {
      log.info("this instance holds the XMPP link lock: opening the link");
      try {
        term = await deps.open(first);
      } catch (err) {
        if (first) {
          role = "stopped";
          await lock.release();
          throw err;
        }
        log.error({ err: (err as Error).message }, "the XMPP link could not be opened; the lock is given back");
        pause = config.failedRetryMs;
        await apply("failed");
        return;
      }
    }
    if (after !== before) {
      if (after === "standby") log.info("standby: another instance holds the XMPP link; accepting and relaying mail");
      deps.onRole?.(after);
    }
  }

  async function tick(): Promise<void> {
    timer = undefined;
    if (role === "stopped") return;
    const ok = role === "standby" ? await lock.tryAcquire() : await lock.check(config.checkTimeoutMs);
    // stop() may have come while the lock answered.
    if ((role as Role) === "stopped") return;
    await apply(ok ? "acquired" : "refused");
    schedule();
  }

  function schedule(): void {
    clearTimeout(timer);
    if (role === "stopped") return;
    const ms = pause ?? (role === "standby" ? config.retryMs : config.checkMs);
    pause = undefined;
    timer = setTimeout(() => void serial(tick).catch((err: Error) => {
      log.error({ err: err.message }, "link lock step failed; trying again");
      schedule();
    }), ms);
  }

  return {
    start: () => serial(async () => {
      if (await lock.tryAcquire()) await apply("acquired", true);
      else {
        log.info("standby: another instance holds the XMPP link; accepting and relaying mail");
        deps.onRole?.(role);
      }
      schedule();
    }),
    role: () => role,
    stop: () => {
      clearTimeout(timer);
      timer = undefined;
      return serial(async () => {
        clearTimeout(timer);
        await apply("stop");
        await lock.release();
      });
    },
  };
}
