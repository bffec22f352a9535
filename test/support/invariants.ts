// The "nothing lost" invariant (docs/design.md §Invariants, 1 and 4), checked against the database after a fault:
// every 250 has a committed message; every delivery is delivered, waiting, or failed with a reason.
import type { TestDatabase } from "./postgres.ts";

/** The queue id in `250 2.0.0 queued as <token>`, or null for any other reply. */
export function tokenOf(reply: { code: number; text: string } | null | undefined): string | null {
  return reply?.code === 250 ? /queued as (\S+)/.exec(reply.text)?.[1] ?? null : null;
}

/** Every problem found, in words; empty when the invariant holds. */
export async function checkNothingLost(db: TestDatabase, accepted: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const token of accepted) {
    const rows = await db.query<{ status: string }>(
      "SELECT d.status FROM messages m JOIN deliveries d ON d.message_id = m.id WHERE m.token = $1", [token]);
    if (rows.length === 0) problems.push(`250 for ${token} but no committed message with deliveries`);
  }
  const bad = await db.query<{ id: string; status: string }>(`
    SELECT id, status FROM deliveries
    WHERE status NOT IN ('delivered', 'pending', 'sending', 'failed') OR (status = 'failed' AND coalesce(last_error, '') = '')`);
  for (const d of bad) problems.push(`delivery ${d.id} is ${d.status} without a reason`);
  return problems;
}
