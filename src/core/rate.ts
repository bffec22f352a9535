// A token bucket per key (docs/design.md §Budgets): `burst` takes at once, refilled at `perMinute`.
// Pure: the clock is injected. Memory is bounded by `maxKeys`; when full, keys whose bucket is full again
// are forgotten first (forgetting them changes nothing), then the least recently used.

export interface RateLimit {
  /** takes a minute refills; 0 turns the limit off */
  perMinute: number;
  /** takes allowed at once; defaults to perMinute */
  burst?: number;
  /** keys remembered at most; defaults to 10,000 */
  maxKeys?: number;
}

export interface RateLimiter {
  /** one take for this key: true when allowed (and counted), false when its bucket is empty */
  take(key: string): boolean;
  /** keys remembered now */
  size(): number;
}

interface Bucket { tokens: number; at: number }

export function createRateLimiter(limit: RateLimit, deps: { now(): number }): RateLimiter {
  const burst = Math.max(1, limit.burst ?? limit.perMinute);
  const perMs = limit.perMinute / 60_000;
  const maxKeys = Math.max(1, limit.maxKeys ?? 10_000);
  const buckets = new Map<string, Bucket>();

  const level = (b: Bucket, now: number) => Math.min(burst, b.tokens + Math.max(0, now - b.at) * perMs);

  // Down to nine tenths at once, so the sweep costs O(1) a take on average.
  const makeRoom = (now: number) => {
    const target = Math.floor(maxKeys * 0.9);
    for (const [key, b] of buckets) if (level(b, now) >= burst) buckets.delete(key);
    // Map order is least recently used first: take() re-inserts the key it touches.
    for (const key of buckets.keys()) {
      if (buckets.size <= target) break;
      buckets.delete(key);
    }
  };

  return {
    take(key) {
      if (limit.perMinute <= 0) return true;
      const now = deps.now();
      const found = buckets.get(key);
      const tokens = found ? level(found, now) : burst;
      if (found) buckets.delete(key);
      else if (buckets.size >= maxKeys) makeRoom(now);
      const allowed = tokens >= 1;
      buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
      return allowed;
    },
    size: () => buckets.size,
  };
}
