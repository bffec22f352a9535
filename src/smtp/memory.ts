// The SMTP side of the memory budget (mail/memory-budget.ts, docs/design.md §Budgets): where a
// transaction is refused for want of memory, always `451 4.3.1` (RFC 3463 X.3.1: mail system full;
// RFC 5321 §4.2.1: a 4yz reply means the sender keeps the mail and retries).
//
// - At MAIL FROM, when the declared SIZE (RFC 1870 §6.1) — or, without one, a single byte — does not fit
//   in what is free now, overall or of the client's share: the sender has sent nothing yet.
// - At the start of DATA the declared SIZE is held at once (two senders cannot both count on the same
//   room), and every byte past it as it arrives. When a byte does not fit, nothing more is kept (what was
//   kept is given back) and the data is read to its end, then answered `451 4.3.1`: smtp-server
//   answers DATA only after the final dot, and a client waiting for our answer is never cut.
// - The bytes stay counted until the transaction is answered: after the commit (`250`) or a refusal.
//
// Trusted proxies (SMTP_TRUSTED_PROXIES) carry many clients: they have no share of their own, only the total.
import type { SMTPServerSession } from "smtp-server";
import type { Logger } from "../log.ts";
import { createMemoryBudget, type Hold, type MemoryBudget } from "../mail/memory-budget.ts";
import { clientKey, normaliseIp } from "../core/client-address.ts";
import { SmtpReply } from "./replies.ts";

export interface SmtpMemoryConfig {
  /** bytes of message data all SMTP transactions together may hold (SMTP_MEMORY_MB) */
  totalBytes: number;
  /** bytes the transactions of one client address may hold (SMTP_MEMORY_PER_CLIENT_MB) */
  perClientBytes: number;
}

/** RFC 3463 §3.4 X.3.1 "Mail system full"; Postfix says "Insufficient system storage". */
export const insufficientStorage = () => new SmtpReply(451, "4.3.1 Insufficient system storage, please try again later");

/** One DATA phase: `take` counts each chunk before it is kept. */
export interface Receiving {
  /** true: keep the chunk; false: the budget is spent (or the mail over `maxSize`), keep nothing more */
  take(bytes: number): boolean;
  /** the budget refused part of the data: the answer is `451 4.3.1` */
  readonly refused: boolean;
  /** bytes taken so far, kept or not */
  readonly size: number;
  /** the transaction is answered: its bytes are no longer counted */
  release(): void;
}

export interface SmtpMemory {
  budget: MemoryBudget;
  /** MAIL FROM: null to go on, or the `451 4.3.1` */
  admit(session: SMTPServerSession, declaredSize: number): SmtpReply | null;
  receive(session: SMTPServerSession, declaredSize: number, maxSize: number): Receiving;
}

/** The SIZE parameter of the transaction's MAIL FROM (RFC 1870), 0 when none was given. */
export function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = Number(args && (args as Record<string, string>).SIZE);
  return Number.isSafeInteger(size) && size > 0 ? size : 0;
}

export function createSmtpMemory(config: SmtpMemoryConfig & { trustedProxies: string[] }, deps: { log: Logger }): SmtpMemory {
  const budget = createMemoryBudget(config);
  const trusted = new Set(config.trustedProxies.map(normaliseIp));
  const clientOf = (session: SMTPServerSession): string | null => {
    const ip = normaliseIp(session.remoteAddress);
    return trusted.has(ip) ? null : clientKey(ip);
  };
  const refused = (session: SMTPServerSession, where: string, bytes: number) => {
    const client = clientOf(session);
    deps.log.info({ session: session.id, remote: client, where, bytes, held: budget.held(),
      heldByClient: client === null ? null : budget.heldBy(client) }, "smtp transaction refused: memory budget spent");
  };
  return {
    budget,
    admit(session, declared) {
      if (budget.fits(clientOf(session), Math.max(declared, 1))) return null;
      refused(session, "mail from", declared);
      return insufficientStorage();
    },
    receive(session, declared, maxSize) {
      let hold: Hold | null = budget.hold(clientOf(session), Math.min(declared, maxSize));
      let seen = 0;
      let spent = hold === null;
      if (spent) refused(session, "data", declared);
      const drop = () => {
        hold?.release();
        hold = null;
      };
      return {
        take(bytes) {
          seen += bytes;
          if (!hold) return false;
          if (seen > maxSize) { // refused 552 at the end of DATA: nothing is kept
            drop();
            return false;
          }
          if (seen <= hold.bytes || hold.grow(seen - hold.bytes)) return true;
          refused(session, "data", seen);
          spent = true;
          drop();
          return false;
        },
        get refused() { return spent; },
        get size() { return seen; },
        release: drop,
      };
    },
  };
}
