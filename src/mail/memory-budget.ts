// The memory that mail in flight may hold (docs/design.md §Budgets): the bytes of every message between
// its first DATA byte and its commit (or refusal), counted against one total for the process and a share
// for each client address. What does not fit is refused, never queued: the SMTP answer is
// `451 4.3.1` (RFC 3463 X.3.1: mail system full), a temporary refusal after which the sender retries.
//
// The last eighth of the total is kept for small mails (up to SMALL_BYTES each), so that senders of
// large mails, however many addresses they use, cannot hold back ordinary mail.

/** Thrown (or answered) when the budget has no room: the caller answers `451 4.3.1`. */
export class BudgetSpent extends Error {
  override name = "BudgetSpent";
}

export interface MemoryBudgetConfig {
  /** bytes all clients together may hold */
  totalBytes: number;
  /** bytes one client address may hold */
  perClientBytes: number;
}

/** What one transaction holds; it grows as data arrives and is given back once. */
export interface Hold {
  readonly bytes: number;
  /** Hold `bytes` more; false (and nothing more held) when it does not fit. */
  grow(bytes: number): boolean;
  release(): void;
}

export interface MemoryBudget {
  /** Would a transaction of `bytes` from `client` fit now? (nothing is held) */
  fits(client: string | null, bytes: number): boolean;
  /** Hold `bytes` for a transaction of `client` (null: exempt from the per-client share); null when it does not fit. */
  hold(client: string | null, bytes: number): Hold | null;
  /** bytes held now, in all */
  held(): number;
  heldBy(client: string): number;
}

/** A mail up to this size may use the reserve kept for small mails. */
export const SMALL_BYTES = 256 * 1024;

export function createMemoryBudget(config: MemoryBudgetConfig): MemoryBudget {
  const reserve = Math.floor(config.totalBytes / 8);
  const byClient = new Map<string, number>();
  let total = 0;

  /** May a transaction now holding `mine` (of `client`) hold `more`? */
  const allows = (client: string | null, mine: number, more: number): boolean => {
    if (client !== null && (byClient.get(client) ?? 0) + more > config.perClientBytes) return false;
    const ceiling = mine + more <= SMALL_BYTES ? config.totalBytes : config.totalBytes - reserve;
    return total + more <= ceiling;
  };

  const add = (client: string | null, bytes: number) => {
    total += bytes;
    if (client === null) return;
    const left = (byClient.get(client) ?? 0) + bytes;
    if (left > 0) byClient.set(client, left);
    else byClient.delete(client);
  };

  return {
    fits: (client, bytes) => allows(client, 0, bytes),
    hold(client, bytes) {
      if (!allows(client, 0, bytes)) return null;
      add(client, bytes);
      let mine = bytes;
      let released = false;
      return {
        get bytes() { return mine; },
        grow(more) {
          if (released || !allows(client, mine, more)) return false;
          add(client, more);
          mine += more;
          return true;
        },
        release() {
          if (released) return;
          released = true;
          add(client, -mine);
          mine = 0;
        },
      };
    },
    held: () => total,
    heldBy: (client) => byClient.get(client) ?? 0,
  };
}
