// A user's presence as one status, for the presence badge (docs/design.md §Presence badges).
import { sanitizeLine } from "./sanitize.ts";

/** RFC 6121 §4.7.2.1 `<show/>` values, plus `online` (no show) and `offline` (no available resource). */
export type BadgeStatus = "chat" | "online" | "away" | "xa" | "dnd" | "offline";

export interface ResourcePresence { status: Exclude<BadgeStatus, "offline">; priority: number; message: string | null }

export interface PresenceSummary { status: BadgeStatus; message: string | null }

/** Most available first: a tie in priority goes to the resource a person is most likely to answer from. */
const RANK: Record<ResourcePresence["status"], number> = { chat: 4, online: 3, dnd: 2, away: 1, xa: 0 };
const MESSAGE_MAX = 80;

/** One available presence stanza's fields (RFC 6121 §4.7.2) as a resource's presence. */
export function readPresence(show: string | undefined, priority: string | undefined, status: string | undefined): ResourcePresence {
  const value = (show ?? "").trim();
  const known = value === "chat" || value === "away" || value === "xa" || value === "dnd";
  // §4.7.2.3: an integer from -128 to +127; anything else counts as 0.
  const p = /^[+-]?\d{1,3}$/.test((priority ?? "").trim()) ? Number(priority) : 0;
  const message = sanitizeLine(status ?? "").slice(0, MESSAGE_MAX);
  return { status: known ? value : "online", priority: Math.max(-128, Math.min(127, p)), message: message || null };
}

/** RFC 6121 §8.5.2.1.1 spirit: the highest-priority resource speaks for the account; offline when none. */
export function summarize(resources: Iterable<ResourcePresence>): PresenceSummary {
  let best: ResourcePresence | undefined;
  for (const r of resources) {
    if (!best || r.priority > best.priority || (r.priority === best.priority && RANK[r.status] > RANK[best.status])) best = r;
  }
  return best ? { status: best.status, message: best.message } : { status: "offline", message: null };
}
