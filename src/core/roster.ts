// What to do with a correspondent's roster item (XEP-0356 roster permission; docs/design.md §Roster and
// privileges). The user's word wins: a name they gave is never overwritten, an item they removed is never
// added again. Pure: the record is what we remember, the item what the user's roster holds now.
import { displayName } from "./display-name.ts";

/** added: ours, named by us; user: the user's (they had it, or renamed it); removed: the user removed ours. */
export type ContactState = "added" | "user" | "removed";
export interface ContactRecord { state: ContactState; name: string | null }
export interface CurrentItem { name: string | null; groups: string[] }

export type AddResult = "added" | "exists" | "removed" | "off" | "unavailable";

export interface RosterDecision {
  /** a roster set to send: this name, in these groups; null: leave the roster as it is */
  set: { name: string; groups: string[] } | null;
  record: ContactRecord;
  result: AddResult;
}

/** The name a roster item gets: the sender's display name when it may appear, else the address. */
export function rosterName(name: string | null, address: string): string {
  return displayName(name) ?? address;
}

/**
 * Whether the roster must be read first. Without `force` (a mail arrived), an item we named and whose
 * name did not change costs nothing; `force` (the user asked for the contact) always looks.
 */
export function mustLook(record: ContactRecord | null, wanted: string, force: boolean): boolean {
  if (!record) return true;
  if (record.state !== "added") return false;
  return force || record.name !== wanted;
}

/** Without a look (mustLook false): what the record says. */
export function settled(record: ContactRecord): AddResult {
  return record.state === "removed" ? "removed" : "exists";
}

export function decide(record: ContactRecord | null, item: CurrentItem | null, wanted: string, group: string): RosterDecision {
  const groups = item && item.groups.length > 0 ? item.groups : [group];
  const ours = (result: AddResult): RosterDecision => ({ set: { name: wanted, groups }, record: { state: "added", name: wanted }, result });
  if (!record) {
    // The user's own item with a name is theirs; an unnamed one (or none) gets ours.
    if (item?.name) return { set: null, record: { state: "user", name: item.name }, result: "exists" };
    return ours("added");
  }
  if (record.state === "removed") return { set: null, record, result: "removed" };
  if (record.state === "user") return { set: null, record, result: "exists" };
  // Ours once: gone means the user removed it; another name means they renamed it (RFC 6121 §2.1.2.4).
  if (!item) return { set: null, record: { state: "removed", name: record.name }, result: "removed" };
  if (item.name !== record.name) return { set: null, record: { state: "user", name: item.name }, result: "exists" };
  if (wanted === record.name) return { set: null, record, result: "exists" };
  return ours("exists");
}
