// A mail's web page and attachments from what intake stored (docs/design.md §Parsing once): the page is
// built once, in the page pool, at the first request, and kept in `messages.page`; an attachment is its
// part's byte range, decoded. A page whose HTML cannot be made safe within the pool's limits is the mail's
// text (the one stored for the chat) with a note, and is kept as well: the next request does not try again.
import { describeVerdict } from "../core/spam-policy.ts";
import type { ParsedMail } from "../core/types.ts";
import type { MailStructure, MimePart } from "../mail/mime-parts.ts";
import { decodeTransfer } from "../mail/transfer-decoding.ts";
import { renderMailPage } from "./page.ts";
import type { PageBuild } from "./page-pool.ts";
import type { MailView, PageSource } from "./view.ts";

/** One inbound mail as the web store reads it (store/web.ts): never its raw bytes. */
export interface WebMail {
  id: number;
  /** the page built at the first request */
  page: string | null;
  parts: MailStructure | null;
  subject: string;
  fromName: string | null;
  fromAddress: string | null;
  /** the text stored for the chat (`messages.body`) */
  body: string;
  attachments: ParsedMail["attachments"];
  /** the content filter's verdict (docs/design.md §Spam); null when none was asked */
  spam?: ParsedMail["spam"];
}

export interface MailPageDeps {
  partBytes(id: number, part: MimePart): Promise<Buffer | undefined>;
  build(source: PageSource): Promise<PageBuild>;
  savePage(id: number, html: string): Promise<void>;
  /** the structure of a mail stored before structures were kept (queue/structures.ts) */
  structureOf?(id: number): Promise<MailStructure | null>;
  /** a page was built: from its HTML or text parts, or as plain text after the pool's limit */
  built?(outcome: "built" | "plain"): void;
}

/** Text parts of a page: more are very likely a bomb, and the stored text shows them anyway. */
const MAX_TEXT_PARTS = 20;

export function createMailPages(config: { maxBytes: number }, deps: MailPageDeps) {
  const fields = (mail: WebMail): Omit<MailView, "text" | "html"> => {
    const cids = new Map((mail.parts?.parts ?? []).filter((p) => p.attachment !== undefined).map((p) => [p.attachment!, p.cid]));
    return {
      subject: mail.subject,
      from: mail.parts?.from || (mail.fromName && mail.fromAddress ? `${mail.fromName} <${mail.fromAddress}>` : mail.fromAddress ?? ""),
      to: mail.parts?.to ?? "", cc: mail.parts?.cc ?? "", date: mail.parts?.date.trim() ?? "",
      ...(mail.spam ? { spam: describeVerdict(mail.spam) } : {}),
      attachments: mail.attachments.map((a, i) => ({ filename: a.filename, contentType: a.contentType.toLowerCase(),
        size: a.size, cid: cids.get(i) ?? null })),
    };
  };
  const plain = (mail: WebMail, token: string, note?: string) =>
    renderMailPage({ ...fields(mail), text: mail.body, html: "", ...(note ? { note } : {}) }, token);

  /** The mail with its structure, read for it once when it was stored without one. */
  const structured = async (mail: WebMail): Promise<WebMail> =>
    mail.parts || mail.attachments.length === 0 || !deps.structureOf ? mail : { ...mail, parts: await deps.structureOf(mail.id) };

  return {
    /** The page, built and kept at the first call; null when its text parts are over maxBytes. */
    async page(stored: WebMail, token: string): Promise<string | null> {
      if (stored.page !== null) return stored.page;
      const mail = await structured(stored);
      const texts = (mail.parts?.parts ?? []).filter((p) => p.attachment === undefined
        && (p.contentType === "text/plain" || p.contentType === "text/html")).slice(0, MAX_TEXT_PARTS);
      if (texts.reduce((n, p) => n + p.end - p.start, 0) > config.maxBytes) return null;
      let html: string;
      if (!mail.parts) html = plain(mail, token); // not read in full at intake: its text says so
      else {
        // A copy each, owned by the page worker once sent (a Buffer from the driver may share memory).
        const bodies = await Promise.all(texts.map(async (part) => ({ part, body: new Uint8Array(await deps.partBytes(mail.id, part) ?? []) })));
        const result = await deps.build({ token, view: fields(mail), texts: bodies });
        deps.built?.("html" in result ? "built" : "plain");
        html = "html" in result ? result.html : plain(mail, token,
          `This mail's formatted version could not be shown within the gateway's limits (${result.failed}); here is its text.`);
      }
      await deps.savePage(mail.id, html);
      return html;
    },

    /** Attachment `index`: its bytes decoded; undefined when there is none; null when over maxBytes. */
    async attachment(stored: WebMail, index: number): Promise<{ part: MimePart; content: Buffer } | null | undefined> {
      const mail = await structured(stored);
      const part = mail.parts?.parts.find((p) => p.attachment === index);
      if (!part) return undefined;
      if (part.end - part.start > config.maxBytes) return null;
      const body = await deps.partBytes(mail.id, part);
      return body ? { part, content: decodeTransfer(body, part.encoding) } : undefined;
    },
  };
}

export type MailPages = ReturnType<typeof createMailPages>;
