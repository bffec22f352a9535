// The mailbox lookup of every RCPT, remembered while the database can tell us it changed. What is
// remembered per address is its whole answer (exact row, subaddress, role or catch-all, docs/design.md
// §Addresses); any change to `mailboxes` forgets all of them.
//
// Design (Data): a mailbox inserted, changed or deleted with SQL applies to the next SMTP transaction.
// A trigger notifies every change to `mailboxes` (migration 000009) and the cache forgets everything
// when it hears one. Before an answer from memory is used, `heard` proves that every notice committed
// before the RCPT has arrived (one round trip on the listening session, shared by all the RCPTs waiting
// meanwhile), so a change committed before the RCPT is never missed. The cache remembers only while
// the listener is connected (`all` … `lost`), and only enabled mailboxes: an unknown or disabled address
// is always read again, so a mailbox just created or re-enabled is never refused from memory. A lookup
// that was in flight while a change was notified is not remembered (its answer may predate the change).
import type { Notice } from "./db.ts";

export interface MailboxCacheConfig {
  /** at most this many addresses remembered; the oldest go first */
  max: number;
  /** a remembered answer is read again after this long, notices or not */
  ttlMs: number;
  /** the proof (`heard`) that takes longer than this is given up: the database is read instead */
  proofTimeoutMs: number;
}

export interface MailboxCache<M> {
  find(address: string): Promise<M | undefined>;
  /** feed it the database's notices (store/db.ts `listen`) */
  hear(notice: Notice): void;
}

export function createMailboxCache<M extends { enabled: boolean }>(config: MailboxCacheConfig,
  deps: { find(address: string): Promise<M | undefined>; heard(): Promise<void>; now(): number }): MailboxCache<M> {
  const entries = new Map<string, { mailbox: M; at: number }>();
  let trusted = false;
  let generation = 0;
  const forget = () => {
    entries.clear();
    generation++;
  };
  return {
    async find(address) {
      const key = address.toLowerCase();
      const hit = trusted ? entries.get(key) : undefined;
      if (hit && deps.now() - hit.at < config.ttlMs) {
        const before = generation;
        let timer: NodeJS.Timeout | undefined;
        const heard = await Promise.race([
          deps.heard().then(() => true, () => false),
          new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), config.proofTimeoutMs); }),
        ]);
        clearTimeout(timer);
        if (heard && trusted && before === generation) return hit.mailbox;
      }
      const asked = generation;
      const mailbox = await deps.find(address);
      if (!trusted || asked !== generation || !mailbox?.enabled) {
        entries.delete(key);
        return mailbox;
      }
      if (entries.size >= config.max) entries.delete(entries.keys().next().value!);
      entries.set(key, { mailbox, at: deps.now() });
      return mailbox;
    },
    hear(notice) {
      if (notice === "mailboxes" || notice === "all" || notice === "lost") forget();
      if (notice === "all") trusted = true;
      if (notice === "lost") trusted = false;
    },
  };
}
