// Group commit: work that arrives while a transaction is open waits for the next one and shares it, so
// a burst of mail costs one WAL flush per group instead of one per mail. Each caller resolves only after
// the commit that holds its rows (invariant 1). When a shared transaction fails on the data itself
// (SQLSTATE class 22 or 23), its items are retried alone, so one bad item cannot fail the others; any
// other failure (database unreachable…) fails the whole group at once.

/** PostgreSQL refused these rows (data exception, integrity violation): other rows may well pass. */
export const isDataError = (err: unknown): boolean => /^2[23]/.test(String((err as { code?: unknown }).code ?? ""));

interface Waiting<I, R> { input: I; resolve(v: R): void; reject(e: unknown): void }

/** One item's outcome: its result, or the error that kept it from being stored. */
export type Stored<R> = { ok: R } | { error: unknown };

/** `group` in one call of `store`; when PostgreSQL refuses it on the data, each item alone. */
export async function storeGroup<I, R>(store: (group: I[]) => Promise<R[]>, group: I[]): Promise<Stored<R>[]> {
  if (group.length === 0) return [];
  try {
    return (await store(group)).map((ok) => ({ ok }));
  } catch (error) {
    if (group.length === 1 || !isDataError(error)) return group.map(() => ({ error }));
    const out: Stored<R>[] = [];
    for (const item of group) out.push(...await storeGroup(store, [item]));
    return out;
  }
}

/** `store` writes a whole group in one transaction and answers in the same order. */
export function createGroupCommit<I, R>(config: { max: number; inFlight: number },
  store: (group: I[]) => Promise<R[]>): (input: I) => Promise<R> {
  const waiting: Waiting<I, R>[] = [];
  let running = 0;
  const settle = async (group: Waiting<I, R>[]): Promise<void> => {
    const results = await storeGroup(store, group.map((w) => w.input));
    group.forEach((w, i) => {
      const r = results[i]!;
      if ("ok" in r) w.resolve(r.ok);
      else w.reject(r.error);
    });
  };
  const drain = async (): Promise<void> => {
    running++;
    try {
      while (waiting.length > 0) await settle(waiting.splice(0, config.max));
    } finally {
      running--;
    }
  };
  return (input) => new Promise<R>((resolve, reject) => {
    waiting.push({ input, resolve, reject });
    if (running < config.inFlight) void drain();
  });
}
