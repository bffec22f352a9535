// When to try again: pure, so the schedule is tested without a clock.

/** Default delays between attempts, in seconds; the last one repeats. */
export const DEFAULT_SCHEDULE: readonly number[] = [30, 60, 300, 900, 1800, 3600];

/** Delay before attempt `attempts + 1`, given `attempts` already made (≥ 1). */
export function retryDelaySeconds(attempts: number, schedule: readonly number[] = DEFAULT_SCHEDULE): number {
  const index = Math.min(Math.max(attempts, 1), schedule.length) - 1;
  return schedule[index] ?? 60;
}
