// Accepting a mail: the message row and one delivery row per recipient in one transaction
// (invariant 1: the SMTP `250` is written only after this commit).
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import type { Mailbox, ParsedMail } from "../core/types.ts";

export interface AcceptInput {
  mailFrom: string;
  remoteAddress: string | null;
  helo: string | null;
  raw: Buffer;
  parsed: ParsedMail;
  recipients: Mailbox[];
}

export interface StoredMessage {
  id: number;
  token: string;
  receivedAt: Date;
  mailFrom: string;
  parsed: ParsedMail;
}

/** Message tokens: 80 random bits in Crockford-like base32, lower case, safe in ids and URLs. */
export function newToken(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  return [...randomBytes(16)].map((b) => alphabet[b & 31]).join("");
}

/** PostgreSQL refused these rows (data exception, integrity violation): other rows may well pass. */
const isDataError = (err: unknown): boolean => /^2[23]/.test(String((err as { code?: unknown }).code ?? ""));

// Invariant 3: Postgres `text` cannot hold NUL; every text column passes the sanitizer.
const text = (v: string | null): string | null => (v === null ? null : sanitizeText(v));

/** At most this many mails share one transaction; at most `GROUPS_IN_FLIGHT` transactions at once. */
const GROUP_MAX = 64;
const GROUPS_IN_FLIGHT = 2;

interface Waiting { input: AcceptInput; token: string; resolve(v: { id: number; token: string }): void; reject(e: unknown): void }

export function createMessageStore(knex: Knex) {
  const messageRow = (input: AcceptInput, token: string) => {
    const p = input.parsed;
    return {
      token,
      mail_from: text(input.mailFrom),
      remote_address: text(input.remoteAddress),
      helo: text(input.helo),
      size: input.raw.length,
      raw: input.raw,
      subject: text(p.subject),
      from_address: text(p.fromAddress),
      from_name: text(p.fromName),
      message_id: text(p.messageId),
      references: (p.references ?? []).map((r) => sanitizeText(r)),
      sent_at: p.date,
      body: text(p.text),
      body_from_html: p.fromHtml,
      attachments: JSON.stringify(p.attachments),
    };
  };

  /** Several mails, their messages and delivery rows, in one transaction: one commit (one WAL flush) for all. */
  const store = (group: Waiting[]): Promise<Map<string, number>> => knex.transaction(async (trx) => {
    const rows = await trx("messages").insert(group.map((w) => messageRow(w.input, w.token)))
      .returning(["id", "token"]) as { id: number; token: string }[];
    const ids = new Map(rows.map((r) => [r.token, r.id]));
    await trx("deliveries").insert(group.flatMap((w) => w.input.recipients.map((r, i) => ({
      message_id: ids.get(w.token),
      direction: "inbound",
      recipient: r.address,
      jid: r.jid,
      // Stable across retries and restarts: receipts, replies and errors refer to it (design).
      stanza_id: `${w.token}.${i}`,
    }))));
    return ids;
  });

  // Group commit: mails that arrive while a transaction is open wait for the next one and share it.
  // Each caller resolves only after the commit that holds its rows (invariant 1). When a shared
  // transaction fails on the data (SQLSTATE class 22 or 23), its mails are retried alone, so one bad
  // mail cannot fail the others; any other failure (database unreachable…) fails the group at once.
  const waiting: Waiting[] = [];
  let inFlight = 0;
  const settle = async (group: Waiting[]): Promise<void> => {
    try {
      const ids = await store(group);
      for (const w of group) w.resolve({ id: ids.get(w.token)!, token: w.token });
    } catch (err) {
      if (group.length === 1 || !isDataError(err)) {
        for (const w of group) w.reject(err);
        return;
      }
      for (const w of group) await settle([w]);
    }
  };
  const drain = async (): Promise<void> => {
    inFlight++;
    try {
      while (waiting.length > 0) await settle(waiting.splice(0, GROUP_MAX));
    } finally {
      inFlight--;
    }
  };

  return {
    accept(input: AcceptInput): Promise<{ id: number; token: string }> {
      return new Promise((resolve, reject) => {
        waiting.push({ input, token: newToken(), resolve, reject });
        if (inFlight < GROUPS_IN_FLIGHT) void drain();
      });
    },

    /** The parsed side of several messages (never the raw bytes), keyed by id. */
    async getMany(ids: number[]): Promise<Map<number, StoredMessage>> {
      const rows: MessageRow[] = await knex("messages").whereIn("id", [...new Set(ids)]).select(
        "id", "token", "received_at", "mail_from", "subject", "from_address", "from_name", "message_id",
        "sent_at", "body", "body_from_html", "attachments",
      );
      return new Map(rows.map((r) => [r.id, toStored(r)]));
    },

    /** What the relay needs of a stored mail: its envelope sender and its bytes, in one read. */
    async forRelay(id: number): Promise<{ mailFrom: string; raw: Buffer } | undefined> {
      return knex("messages").where({ id }).first("mail_from AS mailFrom", "raw");
    },
  };
}

interface MessageRow {
  id: number; token: string; received_at: Date; mail_from: string; subject: string;
  from_address: string | null; from_name: string | null; message_id: string | null; sent_at: Date | null;
  body: string; body_from_html: boolean; attachments: ParsedMail["attachments"];
}

function toStored(r: MessageRow): StoredMessage {
  return {
    id: r.id,
    token: r.token,
    receivedAt: r.received_at,
    mailFrom: r.mail_from,
    parsed: {
      subject: r.subject,
      fromAddress: r.from_address,
      fromName: r.from_name,
      messageId: r.message_id,
      date: r.sent_at,
      text: r.body,
      fromHtml: r.body_from_html,
      attachments: r.attachments,
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;

/** The mail a reply answers: enough to thread it (RFC 5322 §3.6.4). */
export interface ThreadParent { mailbox: string; subject: string; messageId: string | null; references: string[] }

export interface OutgoingInput {
  token: string;
  mailbox: string;
  to: string;
  subject: string;
  body: string;
  messageId: string;
  raw: Buffer;
  jid: string;
  originStanzaId: string | null;
}

export function createThreadStore(knex: Knex) {
  const parentColumns = ["d.recipient AS mailbox", "m.subject", "m.message_id AS messageId", "m.references"];
  return {
    /** XEP-0461: the inbound mail whose chat message had this stable id, if it went to one of `mailboxes`. */
    async byStanzaId(stanzaId: string, mailboxes: string[]): Promise<ThreadParent | undefined> {
      return knex("deliveries as d").join("messages as m", "m.id", "d.message_id")
        .where({ "d.stanza_id": stanzaId, "d.direction": "inbound" })
        .whereRaw("lower(d.recipient) = ANY(?)", [mailboxes.map((a) => a.toLowerCase())])
        .first(parentColumns);
    },
    /** The latest inbound mail from `correspondent` to any of `mailboxes`. */
    async latestFrom(correspondent: string, mailboxes: string[]): Promise<ThreadParent | undefined> {
      return knex("messages as m").join("deliveries as d", "d.message_id", "m.id")
        .where({ "m.direction": "inbound" })
        .whereRaw("lower(m.from_address) = lower(?)", [correspondent])
        .whereRaw("lower(d.recipient) = ANY(?)", [mailboxes.map((a) => a.toLowerCase())])
        .orderBy("m.id", "desc").first(parentColumns);
    },
    /** Queue an outgoing mail: its bytes and one outbound delivery, in one transaction. */
    async queue(input: OutgoingInput): Promise<number> {
      return knex.transaction(async (trx) => {
        const [row] = await trx("messages").insert({
          token: input.token, direction: "outbound", mail_from: input.mailbox, size: input.raw.length, raw: input.raw,
          subject: sanitizeText(input.subject), from_address: input.mailbox, message_id: input.messageId,
          body: sanitizeText(input.body), sent_at: new Date(),
        }).returning("id") as { id: number }[];
        const [delivery] = await trx("deliveries").insert({
          message_id: row!.id, direction: "outbound", recipient: input.to, jid: input.jid,
          stanza_id: `${input.token}.out`, origin_stanza_id: input.originStanzaId,
        }).returning("id") as { id: number }[];
        return delivery!.id;
      });
    },
  };
}

export type ThreadStore = ReturnType<typeof createThreadStore>;
