// The open XEP-0050 sessions (docs/design.md §Budgets): a few per user (bare JID) and a cap overall that
// never blocks another account. The responder determines a session's lifetime (XEP-0050 §3.3): a user who
// opens one more than their share gives up their own oldest (a later submission of it is bad-sessionid),
// so what they opened last always works. When the table is full overall, a user who already holds
// sessions can only trade their oldest for the new one; a user with none and an administrator always
// get one. Pure: the clock is injected. Sessions share one lifetime, so the table in insertion order is
// also in expiry order and expired ones are dropped from its front.
import { randomBytes } from "node:crypto";

export interface SessionBudget {
  /** sessions one bare JID may hold */
  perUser: number;
  /** sessions overall before holders must trade their oldest */
  overall: number;
  /** how long an untouched session lives */
  ttlMs: number;
}

interface Session { id: string; node: string; jid: string; expires: number }

export interface OpenResult { id: string; gaveUp: string | null }

export function createCommandSessions(budget: SessionBudget, deps: { now(): number; isAdmin(jid: string): boolean }) {
  const sessions = new Map<string, Session>();
  const byUser = new Map<string, string[]>();

  const forget = (id: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    const ids = byUser.get(s.jid) ?? [];
    const left = ids.filter((x) => x !== id);
    if (left.length) byUser.set(s.jid, left);
    else byUser.delete(s.jid);
  };

  const sweep = () => {
    const now = deps.now();
    for (const s of sessions.values()) {
      if (s.expires > now) break;
      forget(s.id);
    }
  };

  return {
    /** A new session for `jid` on `node`; `gaveUp` names the session of theirs it replaced, if any. */
    open(jid: string, node: string): OpenResult {
      sweep();
      const held = byUser.get(jid) ?? [];
      const full = sessions.size >= budget.overall && held.length > 0 && !deps.isAdmin(jid);
      let gaveUp: string | null = null;
      if (held.length >= Math.max(1, budget.perUser) || full) {
        gaveUp = held[0]!;
        forget(gaveUp);
      }
      const id = randomBytes(12).toString("hex");
      sessions.set(id, { id, node, jid, expires: deps.now() + budget.ttlMs });
      byUser.set(jid, [...(byUser.get(jid) ?? []), id]);
      return { id, gaveUp };
    },

    /** Ends the session and says whether it was open, for this JID and node (XEP-0050 §3.3: one requester). */
    take(id: string, jid: string, node: string): boolean {
      sweep();
      const s = sessions.get(id);
      if (!s || s.jid !== jid || s.node !== node) return false;
      forget(id);
      return true;
    },

    held(jid: string): number {
      sweep();
      return byUser.get(jid)?.length ?? 0;
    },

    size(): number {
      sweep();
      return sessions.size;
    },
  };
}

export type CommandSessions = ReturnType<typeof createCommandSessions>;
