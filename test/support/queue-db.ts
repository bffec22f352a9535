// The delivery table on a fresh, migrated PostgreSQL database for one test file, and mails accepted into
// it without SMTP: what the queue, lease and worker tests share.
import { after, before } from "node:test";
import type { ParsedMail } from "../../src/core/types.ts";
import { createLogger } from "../../src/log.ts";
import { openDatabase, type Database } from "../../src/store/db.ts";
import { createDeliveryStore, type DeliveryStore } from "../../src/store/deliveries.ts";
import { createMessageStore } from "../../src/store/messages.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";

export const parsed: ParsedMail = { subject: "s", fromAddress: "a@example.com", fromName: null, messageId: null, date: null,
  text: "t", fromHtml: false, attachments: [] };

/** The delivery for mailbox `u<n>@jabber.test`, whose JID is `u<n>@localhost`. */
export const mailbox = (n: number) => ({ kind: "mail" as const, recipient: `u${n}@jabber.test`, jid: `u${n}@localhost`, originStanzaId: null });

export interface QueueDatabase {
  pgdb: TestDatabase;
  db: Database;
  deliveries: DeliveryStore;
  /** One mail for mailboxes u0 … u<recipients − 1>, committed as SMTP intake would. */
  accept(recipients: number): Promise<void>;
}

/** Registers the file's before/after hooks; the fields are set once `before` has run. */
export function useQueueDatabase(): QueueDatabase {
  const q = {} as QueueDatabase;
  before(async () => {
    q.pgdb = await createTestDatabase();
    q.db = await openDatabase({ databaseUrl: q.pgdb.url, dataDir: "/nonexistent", role: "serve", log: createLogger("silent") });
    await q.db.migrate();
    q.deliveries = createDeliveryStore(q.db.knex);
  });
  after(async () => {
    await q.db?.close();
    await q.pgdb?.drop();
  });
  q.accept = async (recipients) => {
    await createMessageStore(q.db.knex).accept({ mailFrom: "a@example.com", remoteAddress: null, helo: null,
      raw: Buffer.from("Subject: s\r\n\r\nt\r\n"), parsed, deliveries: Array.from({ length: recipients }, (_, i) => mailbox(i)) });
  };
  return q;
}
