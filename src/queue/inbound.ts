// Preparing inbound deliveries: stored message → chat message (translation is pure, in core/).
import { addressToJid, parseMailAddress } from "../core/addresses.ts";
import { mailUrl } from "../core/links.ts";
import { addressTag } from "../core/recipients.ts";
import { mailToChat } from "../core/translate.ts";
import { readerHeaders } from "../core/reader-headers.ts";
import type { ChatFile, ChatMessage, MailAddress, ParsedMail } from "../core/types.ts";
import type { MailStructure } from "../mail/mime-parts.ts";
import type { Claimed, Prepared } from "./worker.ts";

export interface InboundDelivery extends Claimed {
  messageId: number;
  recipient: string;
  /** the address the sender used when not the mailbox's own (core/recipients.ts) */
  addressedTo?: string | null;
  /** read with the claim (store/deliveries.ts claim): null when the row is gone */
  stored: StoredMail | null;
  /** the mailbox's settings read with the claim: null for the defaults */
  settings: { collapseQuotes: boolean; showHeaders?: boolean } | null;
}

export interface StoredMail {
  receivedAt: Date; mailFrom: string; parsed: ParsedMail; webToken?: string | null;
  /** the MIME structure stored at intake (messages.parts): null when unread or stored before it */
  structure?: MailStructure | null;
}

/** publicUrl: PUBLIC_URL, when set a mail the chat shows less of ends with its page's URL (core/links.ts) */
export interface InboundConfig { componentDomain: string; chatMaxBytes: number; publicUrl?: string | null }

export interface InboundDeps {
  /** Attachments to send as files, and the fate of each; absent: all listed as not forwarded. */
  attachments?(delivery: { messageId: number; stanzaId: string }, mail: ParsedMail, webToken?: string | null)
    : Promise<{ files: ChatFile[]; fates: Map<number, string> }>;
  now(): Date;
}

export function createInboundPreparer(config: InboundConfig, deps: InboundDeps) {
  return async <T extends InboundDelivery>(batch: T[]): Promise<Prepared<T, ChatMessage>[]> => {
    const out: Prepared<T, ChatMessage>[] = [];
    for (const delivery of batch) out.push(await prepareOne(delivery));
    return out;

    async function prepareOne(delivery: T): Promise<Prepared<T, ChatMessage>> {
      const { stored } = delivery;
      if (!stored) return { delivery, error: "message row is missing" };
      let forwarded: Awaited<ReturnType<NonNullable<InboundDeps["attachments"]>>> | null = null;
      try {
        forwarded = stored.parsed.attachments.length && deps.attachments
          ? await deps.attachments(delivery, stored.parsed, stored.webToken) : null;
      } catch (err) {
        // Reading or uploading its files failed (database, upload service): this delivery alone waits.
        return { delivery, retry: `could not forward the attachments: ${(err as Error).message}` };
      }
      const structure = stored.structure ?? null;
      const head = delivery.settings?.showHeaders ? readerHeaders({ ...(structure ? { from: structure.from, to: structure.to,
        cc: structure.cc, date: structure.date } : {}), subject: stored.parsed.subject, fromName: stored.parsed.fromName,
        fromAddress: stored.parsed.fromAddress, sentAt: stored.parsed.date }, Math.min(4096, Math.floor(config.chatMaxBytes / 2))) : null;
      const input = {
        mail: stored.parsed,
        id: delivery.stanzaId,
        fromJid: addressToJid(correspondent(stored, delivery.recipient), config.componentDomain),
        toJid: delivery.jid,
        acceptedAt: stored.receivedAt,
        now: deps.now(),
        // The header block shares the stanza budget (it takes at most half of it).
        maxBodyBytes: head ? config.chatMaxBytes - Buffer.byteLength(head) - 2 : config.chatMaxBytes,
        collapseQuotes: delivery.settings?.collapseQuotes ?? true,
        nullSender: stored.mailFrom === "",
        ...(forwarded ? { attachmentFates: forwarded.fates } : {}),
        fullMailUrl: config.publicUrl && stored.webToken ? mailUrl(config.publicUrl, stored.webToken) : undefined,
        addressTag: addressTag(delivery.addressedTo, delivery.recipient),
        parts: structure?.parts ?? null,
      };
      // Translation is pure and should never throw; if some text still defeats it, that one delivery
      // fails with the reason (the raw mail stays stored) instead of the whole batch coming back forever.
      try {
        const message = { ...mailToChat(input), ...(forwarded?.files.length ? { files: forwarded.files } : {}) };
        return { delivery, message: head ? { ...message, body: `${head}\n\n${message.body}` } : message };
      } catch (err) {
        return { delivery, error: `could not translate the mail: ${(err as Error).message}` };
      }
    }
  };
}

/**
 * Who the mail is from, as the contact the user sees and answers: the From header, else the envelope
 * sender; a bounce (`MAIL FROM:<>`, RFC 5321 §4.5.5) with no usable From is from the mailer-daemon.
 */
export function correspondent(stored: StoredMail, recipient: string): MailAddress {
  const from = stored.parsed.fromAddress && parseMailAddress(stored.parsed.fromAddress);
  if (from) return from;
  const envelope = stored.mailFrom && parseMailAddress(stored.mailFrom);
  if (envelope) return envelope;
  return `MAILER-DAEMON@${recipient.slice(recipient.lastIndexOf("@") + 1)}` as MailAddress;
}
