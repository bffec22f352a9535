// Accepting a mail: the message row and one delivery row per recipient in one transaction
// (invariant 1: the SMTP `250` is written only after this commit).
import { randomBytes } from "node:crypto";
import type { Knex } from "knex";
import { sanitizeText } from "../core/sanitize.ts";
import { createGroupCommit } from "./group-commit.ts";
import type { ParsedMail, PlannedDelivery } from "../core/types.ts";
import type { MailStructure, MimePart } from "../mail/mime-parts.ts";

export interface AcceptInput {
  mailFrom: string;
  remoteAddress: string | null;
  helo: string | null;
  raw: Buffer;
  parsed: ParsedMail;
  /** the MIME structure the parse found (null: the parser could not finish) */
  parts?: MailStructure | null;
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
  /** the MIME structure found at intake (null: unread, or stored before structures were kept) */
  structure: MailStructure | null;
}

const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";
const base32 = (length: number) => [...randomBytes(length)].map((b) => BASE32[b & 31]).join("");

/** Message tokens: 80 random bits in Crockford-like base32, lower case, safe in ids and URLs. Shown to
 * the SMTP sender (`queued as`) and in outgoing Message-IDs: never a secret. */
export function newToken(): string {
  return base32(16);
}

/**
 * A secret that names one delivery: its stanza id, or the bounce address of an outgoing mail
 * (core/verp.ts). 130 random bits, 26 characters of the same alphabet; unrelated to anything shown to
 * a sender (docs/design.md §Who speaks for a delivery).
 */
export function newSecret(): string {
  return base32(26);
}

/** The secret of a mail's web page (core/links.ts): 256 random bits, base64url, 43 characters. */
export function newWebToken(): string {
  return randomBytes(32).toString("base64url");
}

// Invariant 3: Postgres `text` cannot hold NUL; every text column passes the sanitizer.
const text = (v: string | null): string | null => (v === null ? null : sanitizeText(v));

/** At most this many mails share one transaction; at most this many transactions at once (group-commit.ts). */
const GROUP = { max: 64, inFlight: 2 };

export function createMessageStore(knex: Knex) {
  const messageRow = (input: AcceptInput, token: string) => {
    const p = input.parsed;
    return {
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
      parts: input.parts ? JSON.stringify(input.parts) : null,
      automatic: p.automatic ?? false,
      list_id: text(p.listId ?? null),
      report: input.report === undefined || input.report === null ? null : JSON.stringify(input.report),
      authentication: p.authentication ? JSON.stringify(p.authentication) : null,
      spam: p.spam ? JSON.stringify(p.spam) : null,
    };
  };

  /** Several mails, their messages and delivery rows, in one transaction: one commit for all. */
  const store = (group: AcceptInput[]) => knex.transaction(async (trx) => {
    const tokens = group.map(() => newToken());
    const rows = await trx("messages").insert(group.map((input, i) => messageRow(input, tokens[i]!)))
      .returning(["id", "token"]) as { id: number; token: string }[];
    const ids = new Map(rows.map((r) => [r.token, Number(r.id)]));
    const deliveries = group.flatMap((input, g) => input.deliveries.map((d) => ({
      message_id: ids.get(tokens[g]!),
      direction: "inbound",
      kind: d.kind,
      recipient: d.recipient,
      jid: d.jid,
      origin_stanza_id: d.originStanzaId,
      addressed_to: d.addressedTo ? text(d.addressedTo) : null,
      // Random, never derived from the token the sender sees; stable across retries and restarts:
      // receipts, replies and errors refer to it (docs/design.md §Who speaks for a delivery).
      stanza_id: newSecret(),
      ...(d.failed ? { status: "failed", last_error: d.failed } : d.held ? { status: "held" } : {}),
    })));
    if (deliveries.length > 0) await trx("deliveries").insert(deliveries);
    for (const f of group.flatMap((input) => input.failOutbound ?? [])) {
      await trx("deliveries").where({ id: f.id, direction: "outbound" })
        .update({ status: "failed", last_error: sanitizeText(f.why).slice(0, 2000), locked_until: null, updated_at: trx.fn.now() });
    }
    return tokens.map((token) => ({ id: ids.get(token)!, token }));
  });

  return {
    /** Store a mail durably; resolves once the transaction holding it has committed (group commit). */
    accept: createGroupCommit(GROUP, store),

    /** The MIME structure found at intake (null: unread, or stored before structures were kept). */
    async partsOf(id: number): Promise<MailStructure | null> {
      return (await knex("messages").where({ id }).first<{ parts: MailStructure | null } | undefined>("parts"))?.parts ?? null;
    },
    /** The raw mail of a row stored before structures were kept: no `parts`, yet attachments listed. */
    async unstructuredRaw(id: number): Promise<Buffer | undefined> {
      return (await knex("messages").where({ id }).whereNull("parts").whereRaw("jsonb_array_length(attachments) > 0")
        .first<{ raw: Buffer } | undefined>("raw"))?.raw;
    },
    async saveParts(id: number, structure: MailStructure): Promise<void> {
      await knex("messages").where({ id }).whereNull("parts").update({ parts: JSON.stringify(structure) });
    },
    /** One part's body as stored: only its byte range is read (offsets are 0-based, SQL's 1-based). */
    async partBytes(id: number, part: Pick<MimePart, "start" | "end">): Promise<Buffer | undefined> {
      return (await knex("messages").where({ id })
        .first<{ bytes: Buffer } | undefined>(knex.raw("substring(raw FROM ? FOR ?) AS bytes", [part.start + 1, part.end - part.start])))?.bytes;
    },
    /** Where the mail's attachments were uploaded, by index. */
    async uploads(id: number): Promise<Record<string, string>> {
      return (await knex("messages").where({ id }).first<{ uploads: Record<string, string> } | undefined>("uploads"))?.uploads ?? {};
    },
    async saveUploads(id: number, urls: Record<string, string>): Promise<void> {
      await knex("messages").where({ id }).update({ uploads: knex.raw("uploads || ?::jsonb", [JSON.stringify(urls)]) });
    },
  };
}

/** The parsed side of a stored mail: what delivering it needs (never the raw bytes). */
export const MESSAGE_COLUMNS = ["id", "token", "received_at", "mail_from", "subject", "from_address", "from_name",
  "message_id", "sent_at", "body", "body_from_html", "attachments", "automatic", "list_id", "report", "authentication",
  "web_token", "parts", "spam"] as const satisfies readonly (keyof MessageRow)[];

export interface MessageRow {
  id: number; token: string; received_at: Date; mail_from: string; subject: string;
  from_address: string | null; from_name: string | null; message_id: string | null; sent_at: Date | null;
  body: string; body_from_html: boolean; attachments: ParsedMail["attachments"];
  automatic: boolean; list_id: string | null; report: unknown;
  authentication: ParsedMail["authentication"];
  web_token: string | null;
  parts: MailStructure | null;
  spam: ParsedMail["spam"];
}

export function toStored(r: MessageRow): StoredMessage {
  return {
    id: r.id,
    token: r.token,
    receivedAt: r.received_at,
    mailFrom: r.mail_from,
    report: r.report ?? null,
    webToken: r.web_token ?? null,
    structure: r.parts ?? null,
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
      spam: r.spam ?? null,
    },
  };
}

export type MessageStore = ReturnType<typeof createMessageStore>;
