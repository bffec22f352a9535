// Inbound attachments as chat files: each one the policy let through is uploaded once (XEP-0363),
// or linked on the gateway's own web page (PUBLIC_URL), and follows the text as its own message; the others
// are listed in the text with the reason. Which part is which, and its verdict, were decided once at intake
// (mail/mime-parts.ts, docs/design.md §Parsing once): a file is its part's byte range, decoded, no parser.
import { safeFilename } from "../core/attachments.ts";
import { attachmentUrl } from "../core/links.ts";
import type { ChatFile, ParsedMail } from "../core/types.ts";
import type { Logger } from "../log.ts";
import type { MailStructure, MimePart } from "../mail/mime-parts.ts";
import { decodeTransfer } from "../mail/transfer-decoding.ts";

export interface AttachmentDeps {
  log: Logger;
  /** the structure stored at intake (store/messages.ts partsOf) */
  partsOf(messageId: number): Promise<MailStructure | null>;
  /** one part's body as stored: its byte range of the raw mail only */
  partBytes(messageId: number, part: MimePart): Promise<Buffer | undefined>;
  uploads(messageId: number): Promise<Record<string, string>>;
  saveUploads(messageId: number, urls: Record<string, string>): Promise<void>;
  /** XEP-0363 upload; resolves with a URL the user's client can fetch. Absent: links to the web page only. */
  upload?(file: { filename: string; contentType: string; content: Buffer }): Promise<string>;
}

export interface Forwarded { files: ChatFile[]; fates: Map<number, string> }

const MAX_FILES = 20;

export function createAttachmentForwarder(config: { publicUrl: string | null }, deps: AttachmentDeps) {
  /** Served by the gateway itself (GET /m/<token>/a/<n>) when there is no upload, or the upload failed. */
  const served = (webToken: string | null | undefined, i: number, name: string | null) =>
    config.publicUrl && webToken ? attachmentUrl(config.publicUrl, webToken, i, safeFilename(name, i)) : null;

  return async function forward(delivery: { messageId: number; stanzaId: string }, mail: ParsedMail,
    webToken?: string | null): Promise<Forwarded> {
    const fates = new Map<number, string>();
    const structure = await deps.partsOf(delivery.messageId);
    const parts = new Map((structure?.parts ?? []).filter((p) => p.attachment !== undefined).map((p) => [p.attachment!, p] as const));
    const wanted: MimePart[] = [];
    mail.attachments.slice(0, 50).forEach((_, i) => {
      const part = parts.get(i);
      // No part: the parser could not finish the mail, or the part was past the structure's cap.
      if (!part?.verdict) fates.set(i, "could not be read from the stored mail");
      else if (!part.verdict.forward) fates.set(i, part.verdict.why);
      else if (wanted.length >= MAX_FILES) fates.set(i, `more than ${MAX_FILES} files`);
      else wanted.push(part);
    });
    if (wanted.length === 0) return { files: [], fates };
    const urls = deps.upload ? await deps.uploads(delivery.messageId) : {};
    const missing = wanted.filter((p) => !urls[p.attachment!]);
    if (!deps.upload) {
      for (const p of missing) {
        const link = served(webToken, p.attachment!, p.filename);
        if (link) urls[p.attachment!] = link;
        else fates.set(p.attachment!, "no upload service or web link configured");
      }
    } else if (missing.length > 0) {
      const fresh: Record<string, string> = {};
      for (const part of missing) {
        const i = part.attachment!;
        const body = await deps.partBytes(delivery.messageId, part);
        if (!body) {
          fates.set(i, "could not be read from the stored mail");
          continue;
        }
        try {
          fresh[i] = await deps.upload({ filename: safeFilename(part.filename, i), contentType: part.contentType,
            content: decodeTransfer(body, part.encoding) });
        } catch (err) {
          // The mail itself still goes; the file stays in the stored mail, and on the web page when there is one.
          deps.log.warn({ messageId: delivery.messageId, index: i, err: (err as Error).message }, "attachment upload failed");
          const link = served(webToken, i, part.filename);
          if (link) urls[i] = link;
          else fates.set(i, "the upload failed");
        }
      }
      if (Object.keys(fresh).length) await deps.saveUploads(delivery.messageId, fresh);
      Object.assign(urls, fresh);
    }
    const files = wanted.filter((p) => urls[p.attachment!]).map((p) => {
      const i = p.attachment!;
      fates.set(i, "sent");
      return { id: `${delivery.stanzaId}.f${i}`, url: urls[i]!, name: safeFilename(mail.attachments[i]!.filename, i) };
    });
    return { files, fates };
  };
}
