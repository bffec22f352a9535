// Runs of work per key, in the order submitted: while one run of a key is being handled, what arrives for
// that key waits and forms the next run (at most `max` items). Different keys run independently. Built on
// the group commit (store/group-commit.ts): a run that PostgreSQL refuses on the data is handled item by
// item, so one bad item cannot fail the others.
import { createGroupCommit } from "../store/group-commit.ts";

export function createOrderedBatches<I, R>(config: { max: number },
  handle: (key: string, run: I[]) => Promise<R[]>): (key: string, input: I) => Promise<R> {
  const lanes = new Map<string, { submit: (input: I) => Promise<R>; open: number }>();
  return async (key, input) => {
    let lane = lanes.get(key);
    if (!lane) {
      // inFlight 1: one run of a key at a time, so runs (and the items in them) keep the submitted order.
      lane = { submit: createGroupCommit<I, R>({ max: config.max, inFlight: 1 }, (run) => handle(key, run)), open: 0 };
      lanes.set(key, lane);
    }
    lane.open++;
    try {
      return await lane.submit(input);
    } finally {
      // Bounded memory: a key with nothing waiting is forgotten.
      if (--lane.open === 0 && lanes.get(key) === lane) lanes.delete(key);
    }
  };
}
