// Small helpers of the composition root (docs/design.md §Rooms).
import type { Notice } from "../store/db.ts";

/** A loop's wake-up for the notices that concern it: its own direction, or anything after a reconnect. */
export function wakeOn(direction: "inbound" | "outbound", wake: () => void): (notice: Notice) => void {
  return (notice) => {
    if (notice === direction || notice === "all") wake();
  };
}

/** Methods of a store as free functions for a deps object. */
export function bind<T extends object, K extends keyof T>(target: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, (target[k] as (...a: unknown[]) => unknown).bind(target)])) as Pick<T, K>;
}
