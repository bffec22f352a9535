// Accepting a mail: the message row and one delivery row per recipient in one transaction
// (invariant 1: the SMTP `250` is written only after this commit).
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import type { BounceTarget, ParsedMail, PlannedDelivery, SendLimit } from "../core/types.ts";

export interface AcceptInput {
  mailFrom: string;
  remoteAddress: string | null;
  helo: string | null;
  raw: Buffer;
  parsed: ParsedMail;
  deliveries: PlannedDelivery[];
  /** RFC 3464 fields when the mail is a delivery status notification about our mail */
  report?: unknown;
  /** outgoing deliveries a failure report proves failed, with the words to record */
  failOutbound?: { id: number; why: string }[];
}

export interface StoredMessage {
  id: number;
  token: string;
  receivedAt: Date;
  mailFrom: string;
  parsed: ParsedMail;
  report: unknown;
  /** the secret of its web page (null for mail accepted before links existed) */
  webToken: string | null;
}

/** Message tokens: 80 random bits in Crockford-like base32, lower case, safe in ids and URLs. */
export function newToken(): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  return [...randomBytes(16)].map((b) => alphabet[b & 31]).join("");
}

/** The secret of a mail's web page (core/links.ts): 256 random bits, base64url, 43 characters. */
export function newWebToken(): string {
  return randomBytes(32).toString("base64url");
}

// Invariant 3: Postgres `text` cannot hold NUL; every text column passes the sanitizer.
const text = (v: string | null): string | null => (v === null ? null : sanitizeText(v));

export function createMessageStore(knex: Knex) {
  return {
    async accept(input: AcceptInput): Promise<{ id: number; token: string }> {
      const token = newToken();
      const p = input.parsed;
      return knex.transaction(async (trx) => {
        const [row] = await trx("messages").insert({
          token,
          web_token: newWebToken(),
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
          automatic: p.automatic ?? false,
          list_id: text(p.listId ?? null),
          report: input.report === undefined || input.report === null ? null : JSON.stringify(input.report),
          authentication: p.authentication ? JSON.stringify(p.authentication) : null,
        }).returning("id") as { id: number }[];
        const id = row!.id;
        if (input.deliveries.length > 0) {
          await trx("deliveries").insert(input.deliveries.map((d, i) => ({
            message_id: id,
            direction: "inbound",
            kind: d.kind,
            recipient: d.recipient,
            jid: d.jid,
            origin_stanza_id: d.originStanzaId,
            // Stable across retries and restarts: receipts, replies and errors refer to it (design).
            stanza_id: `${token}.${i}`,
          })));
        }
        for (const f of input.failOutbound ?? []) {
          await trx("deliveries").where({ id: f.id, direction: "outbound" })
            .update({ status: "failed", last_error: sanitizeText(f.why).slice(0, 2000), locked_until: null, updated_at: trx.fn.now() });
        }
        return { id, token };
      });
    },

    /** The parsed side of several messages (never the raw bytes), keyed by id. */
    async getMany(ids: number[]): Promise<Map<number, StoredMessage>> {
      const rows: MessageRow[] = await knex("messages").whereIn("id", [...new Set(ids)]).select(
        "id", "token", "received_at", "mail_from", "subject", "from_address", "from_name", "message_id",
        "sent_at", "body", "body_from_html", "attachments", "automatic", "list_id", "report", "authentication", "web_token",
      );
      return new Map(rows.map((r) => [r.id, toStored(r)]));
    },

    /** The header block of several mails as received (our Received: first), at most 8 KiB each. */
    async headerBlocks(ids: number[]): Promise<Map<number, Buffer>> {
      const { rows } = await knex.raw<{ rows: { id: number; head: Buffer }[] }>(`
        SELECT id, substring(raw FROM 1 FOR least(CASE WHEN position('\\x0d0a0d0a'::bytea IN raw) > 0
                 THEN position('\\x0d0a0d0a'::bytea IN raw) - 1 ELSE length(raw) END, 8192)) AS head
        FROM messages WHERE id = ANY(?)`, [[...new Set(ids)]]);
      return new Map(rows.map((r) => [Number(r.id), r.head]));
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
  automatic: boolean; list_id: string | null; report: unknown;
  authentication: ParsedMail["authentication"];
  web_token: string | null;
}

function toStored(r: MessageRow): StoredMessage {
  return {
    id: r.id,
    token: r.token,
    receivedAt: r.received_at,
    mailFrom: r.mail_from,
    report: r.report ?? null,
    webToken: r.web_token ?? null,
    parsed: {
      subject: r.subject,
      fromAddress: r.from_address,
      fromName: r.from_name,
      messageId: r.message_id,
      date: r.sent_at,
      text: r.body,
      fromHtml: r.body_from_html,
      attachments: r.attachments,
      automatic: r.automatic,
      authentication: r.authentication ?? null,
      listId: r.list_id,
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;

/** The mail a reply answers: enough to thread it (RFC 5322 §3.6.4). */
export interface ThreadParent { mailbox: string; subject: string; messageId: string | null; references: string[] }

export interface OutgoingInput {
  token: string;
  mailbox: string;
  /** the envelope sender: the mail's own bounce address (core/verp.ts) */
  mailFrom: string;
  to: string;
  subject: string;
  body: string;
  messageId: string;
  raw: Buffer;
  jid: string;
  originStanzaId: string | null;
  receiptRequested: boolean;
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
    /**
     * Queue an outgoing mail (its bytes and one outbound delivery) unless its mailbox is over a limit.
     * A per-mailbox transaction lock makes count-then-insert atomic across gateway instances: no burst
     * of concurrent messages can slip past the limit.
     */
    async queue(input: OutgoingInput, limit: SendLimit): Promise<{ queued: number } | { over: "minute" | "day" }> {
      return knex.transaction(async (trx) => {
        if (limit.perMinute > 0 || limit.perDay > 0) {
          await trx.raw("SELECT pg_advisory_xact_lock(hashtext('passerelle.send:' || lower(?)))", [input.mailbox]);
          const { rows: [sent] } = await trx.raw<{ rows: { minute: number; day: number }[] }>(`
            SELECT count(*) FILTER (WHERE received_at > clock_timestamp() - interval '1 minute')::int AS minute,
                   count(*)::int AS day
            FROM messages
            WHERE direction = 'outbound' AND lower(from_address) = lower(?)
              AND received_at > clock_timestamp() - interval '1 day'`, [input.mailbox]);
          if (limit.perMinute > 0 && sent!.minute >= limit.perMinute) return { over: "minute" as const };
          if (limit.perDay > 0 && sent!.day >= limit.perDay) return { over: "day" as const };
        }
        const [row] = await trx("messages").insert({
          // clock_timestamp(), not now(): a transaction that waited for the lock counts at its real time.
          received_at: trx.raw("clock_timestamp()"),
          token: input.token, direction: "outbound", mail_from: input.mailFrom, size: input.raw.length, raw: input.raw,
          subject: sanitizeText(input.subject), from_address: input.mailbox, message_id: input.messageId,
          body: sanitizeText(input.body), sent_at: new Date(),
        }).returning("id") as { id: number }[];
        const [delivery] = await trx("deliveries").insert({
          message_id: row!.id, direction: "outbound", recipient: input.to, jid: input.jid,
          stanza_id: `${input.token}.out`, origin_stanza_id: input.originStanzaId,
          receipt_requested: input.receiptRequested,
        }).returning("id") as { id: number }[];
        return { queued: delivery!.id };
      });
    },

    /** The outgoing mail a VERP bounce address names (core/verp.ts), while its row exists. */
    async bounceTarget(token: string): Promise<{ mailbox: string; target: BounceTarget } | undefined> {
      // Only while the sending mailbox is enabled: a disabled mailbox receives nothing, reports included.
      const row = await knex("messages as m").join("deliveries as d", "d.message_id", "m.id")
        .joinRaw("JOIN mailboxes mb ON lower(mb.address) = lower(m.from_address) AND mb.enabled")
        .where({ "m.token": token, "m.direction": "outbound", "d.direction": "outbound" })
        .first<{ mailbox: string; deliveryId: number; correspondent: string; userJid: string; originStanzaId: string | null }>(
          "m.from_address AS mailbox", "d.id AS deliveryId", "d.recipient AS correspondent", "d.jid AS userJid",
          "d.origin_stanza_id AS originStanzaId");
      if (!row) return undefined;
      const { mailbox, ...target } = row;
      return { mailbox, target };
    },
  };
}

export type ThreadStore = ReturnType<typeof createThreadStore>;
