// Inbound attachments as chat files (issue #4): each one the policy lets through is uploaded once (XEP-0363),
// or linked on the gateway's own web page (PUBLIC_URL), and follows the text as its own message; the others
// are listed in the text with the reason.
import { judgeAttachment, safeFilename, type AttachmentPolicy } from "../core/attachments.ts";
import { attachmentUrl } from "../core/links.ts";
import type { ChatFile, ParsedMail } from "../core/types.ts";
import type { Logger } from "../log.ts";

export interface AttachmentDeps {
  log: Logger;
  loadRaw(messageId: number): Promise<Buffer | undefined>;
  loadUploads(messageId: number): Promise<Record<string, string>>;
  saveUploads(messageId: number, urls: Record<string, string>): Promise<void>;
  /** the attachments' bytes, in ParsedMail.attachments order */
  extract(raw: Buffer): Promise<{ filename: string | null; contentType: string; content: Buffer }[]>;
  /** XEP-0363 upload; resolves with a URL the user's client can fetch. Absent: links to the web page only. */
  upload?(file: { filename: string; contentType: string; content: Buffer }): Promise<string>;
}

export interface Forwarded { files: ChatFile[]; fates: Map<number, string> }

const MAX_FILES = 20;

export function createAttachmentForwarder(config: { policy: AttachmentPolicy; publicUrl: string | null }, deps: AttachmentDeps) {
  /** Served by the gateway itself (GET /m/<token>/a/<n>) when there is no upload, or the upload failed. */
  const served = (webToken: string | null | undefined, i: number, name: string | null) =>
    config.publicUrl && webToken ? attachmentUrl(config.publicUrl, webToken, i, safeFilename(name, i)) : null;

  return async function forward(delivery: { messageId: number; stanzaId: string }, mail: ParsedMail,
    webToken?: string | null): Promise<Forwarded> {
    const fates = new Map<number, string>();
    const wanted: number[] = [];
    mail.attachments.slice(0, 50).forEach((a, i) => {
      const verdict = judgeAttachment(a, config.policy);
      if (!verdict.forward) fates.set(i, verdict.why);
      else if (wanted.length >= MAX_FILES) fates.set(i, `more than ${MAX_FILES} files`);
      else wanted.push(i);
    });
    if (wanted.length === 0) return { files: [], fates };
    const urls = deps.upload ? await deps.loadUploads(delivery.messageId) : {};
    const missing = wanted.filter((i) => !urls[i]);
    if (!deps.upload) {
      for (const i of missing) {
        const link = served(webToken, i, mail.attachments[i]!.filename);
        if (link) urls[i] = link;
        else fates.set(i, "no upload service or web link configured");
      }
    } else if (missing.length > 0) {
      const raw = await deps.loadRaw(delivery.messageId);
      const parts = raw ? await deps.extract(raw) : [];
      const fresh: Record<string, string> = {};
      for (const i of missing) {
        const part = parts[i];
        if (!part) {
          fates.set(i, "could not be read from the stored mail");
          continue;
        }
        try {
          fresh[i] = await deps.upload({ filename: safeFilename(part.filename, i), contentType: part.contentType, content: part.content });
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
    const files = wanted.filter((i) => urls[i]).map((i) => {
      fates.set(i, "sent");
      return { id: `${delivery.stanzaId}.f${i}`, url: urls[i]!, name: safeFilename(mail.attachments[i]!.filename, i) };
    });
    return { files, fates };
  };
}
