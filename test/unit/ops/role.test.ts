// The instance's role (docs/design.md §Several instances): every role against every event, then the
// keeper driving it with a lock the test controls.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../../../src/log.ts";
import { createRoleKeeper, type Term } from "../../../src/ops/role-keeper.ts";
import { INITIAL_ROLE, nextRole, type Role, type RoleEvent } from "../../../src/ops/role.ts";
import type { LinkLock } from "../../../src/store/link-lock.ts";

const EVENTS: RoleEvent[] = ["acquired", "refused", "lost", "failed", "stop"];
// Rows: the role before; columns: EVENTS in order; "+" opens the link, "-" closes it.
const TABLE: Record<Role, string[]> = {
  //        acquired   refused      lost         failed       stop
  standby: ["link+",   "standby",   "standby",   "standby",   "stopped"],
  link:    ["link",    "standby-",  "standby-",  "standby-",  "stopped-"],
  stopped: ["stopped", "stopped",   "stopped",   "stopped",   "stopped"],
};

describe("role state machine", () => {
  it("starts as standby", () => assert.equal(INITIAL_ROLE, "standby"));
  for (const [role, row] of Object.entries(TABLE) as [Role, string[]][]) {
    EVENTS.forEach((event, i) => {
      it(`${role} + ${event} → ${row[i]}`, () => {
        const { role: after, action } = nextRole(role, event);
        const mark = action === "open" ? "+" : action === "close" ? "-" : "";
        assert.equal(`${after}${mark}`, row[i]);
      });
    });
  }
});

/** A lock the test hands out or takes away; `lose()` ends its session as PostgreSQL would. */
function fakeLock() {
  let free = true;
  let mine = false;
  let onLost = () => {};
  const lock: LinkLock = {
    tryAcquire: async () => (mine ||= free && !(free = false)),
    check: async () => mine,
    release: async () => { if (mine) free = true; mine = false; },
  };
  return {
    factory: (lost: () => void) => { onLost = lost; return lock; },
    take: () => { free = false; },
    give: () => { free = true; },
    lose: () => { mine = false; free = true; onLost(); },
    stall: () => { mine = false; },
  };
}

const TIMING = { retryMs: 20, checkMs: 20, checkTimeoutMs: 20, failedRetryMs: 100 };

async function until(what: string, ok: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(5)) if (Date.now() > end) throw new Error(`timed out: ${what}`);
}

describe("role keeper", () => {
  const log = createLogger("silent");
  const recorder = () => {
    const events: string[] = [];
    const open = async (): Promise<Term> => {
      events.push("open");
      return { stop: async (reason) => { events.push(`close ${reason}`); } };
    };
    return { events, open };
  };

  it("opens the link at start when the lock is free, and closes it once at stop", async () => {
    const lock = fakeLock();
    const { events, open } = recorder();
    const keeper = createRoleKeeper(TIMING, { log, lock: lock.factory, open });
    await keeper.start();
    assert.equal(keeper.role(), "link");
    await keeper.stop();
    assert.equal(keeper.role(), "stopped");
    assert.deepEqual(events, ["open", "close shutdown"]);
  });

  it("a standby never opens while another holds the lock, then takes over when it is free", async () => {
    const lock = fakeLock();
    lock.take();
    const { events, open } = recorder();
    const roles: Role[] = [];
    const keeper = createRoleKeeper(TIMING, { log, lock: lock.factory, open, onRole: (r) => roles.push(r) });
    await keeper.start();
    await sleep(100);
    assert.equal(keeper.role(), "standby");
    assert.deepEqual(events, []);
    lock.give();
    await until("takeover", () => keeper.role() === "link");
    await keeper.stop();
    assert.deepEqual(events, ["open", "close shutdown"]);
    assert.deepEqual(roles, ["standby", "link", "stopped"]);
  });

  it("closes the link at once when the lock's session ends, then becomes holder again when it can", async () => {
    const lock = fakeLock();
    const { events, open } = recorder();
    const keeper = createRoleKeeper(TIMING, { log, lock: lock.factory, open });
    await keeper.start();
    lock.take(); // another instance takes it as soon as ours is gone
    lock.lose();
    await until("closed", () => events.includes("close lost"));
    assert.equal(keeper.role(), "standby");
    lock.give();
    await until("holder again", () => keeper.role() === "link");
    await keeper.stop();
    assert.deepEqual(events, ["open", "close lost", "open", "close shutdown"]);
  });

  it("a holder whose session stops answering closes its link", async () => {
    const lock = fakeLock();
    const { events, open } = recorder();
    const keeper = createRoleKeeper(TIMING, { log, lock: lock.factory, open });
    await keeper.start();
    lock.stall();
    lock.take();
    await until("closed", () => events.includes("close lost"));
    await keeper.stop();
    assert.deepEqual(events, ["open", "close lost"]);
  });

  it("a link that cannot be opened stops the start; at a takeover it gives the lock back", async () => {
    const refused = createRoleKeeper(TIMING, { log, lock: fakeLock().factory, open: async () => { throw new Error("not-authorized"); } });
    await assert.rejects(refused.start(), /not-authorized/);
    assert.equal(refused.role(), "stopped");

    const lock = fakeLock();
    lock.take();
    let tries = 0;
    const keeper = createRoleKeeper(TIMING, { log, lock: lock.factory, open: async () => { tries++; throw new Error("conflict"); } });
    await keeper.start();
    lock.give();
    await until("a try", () => tries === 1);
    await until("back to standby", () => keeper.role() === "standby");
    await sleep(50); // within failedRetryMs: no second try yet
    assert.equal(tries, 1);
    await keeper.stop();
  });
});
