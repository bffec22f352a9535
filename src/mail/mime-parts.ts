// The MIME structure of a mail, read once in the parse pool (docs/design.md §Parsing once): for each leaf
// part, where its body lies in the stored bytes (`messages.raw`), how it is encoded and what it is. Later
// readers (attachment uploads, the web page, attachment downloads) fetch only that byte range and undo its
// transfer encoding (transfer-decoding.ts): no second parser.
//
// The ranges come from the splitter mailparser itself splits with (mailsplit): every byte it is given comes
// out once, in order, in a node's header block or in a body or data chunk (message-joiner.js joins them
// back unchanged), so counting them gives each part's offsets.
import type { MimeNode, SplitterChunk } from "@zone-eu/mailsplit/lib/types.js";
import { judgeAttachment, type AttachmentPolicy, type AttachmentVerdict } from "../core/attachments.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { ParsedMail } from "../core/types.ts";
import type { LeanAttachment } from "./lean-parser.ts";

export interface MimePart {
  /** RFC 3501 §6.4.5 part number ("1.2"), "" for the body of a single-part mail */
  path: string;
  /** the body as sent, before its transfer encoding is undone: bytes [start, end) of `messages.raw`
   * (RFC 2046 §5.1.1: the line break before a boundary belongs to the boundary) */
  start: number;
  end: number;
  contentType: string;
  charset: string | null;
  /** Content-Transfer-Encoding, "7bit" when absent */
  encoding: string;
  /** RFC 3676 format=flowed, delsp=yes */
  flowed?: true;
  delSp?: true;
  filename: string | null;
  disposition: string | null;
  /** Content-ID without angle brackets (RFC 2392: what a `cid:` URL names) */
  cid: string | null;
  /** bytes once the transfer encoding is undone: exact for an attachment (the parser counted them), close for a text part */
  size: number;
  /** its index in `messages.attachments` (and in /m/<token>/a/<n>); absent for the mail's own text */
  attachment?: number;
  /** part of a multipart/related HTML mail (an inline image) */
  related?: true;
  /** the attachment policy's verdict (core/attachments.ts), decided once at intake */
  verdict?: AttachmentVerdict;
}

/** `messages.parts`: the leaf parts, and the header fields the web page shows that no column holds. */
export interface MailStructure {
  /** the top-level Content-Type (RFC 6522: multipart/report) and its report-type parameter */
  type: string;
  reportType: string | null;
  /** leaf parts in the mail's order, at most MAX_PARTS */
  parts: MimePart[];
  /** leaf parts past MAX_PARTS: not listed (their bytes stay in the stored mail) */
  omitted: number;
  /** From, To, Cc as the page shows them, and the Date line as written */
  from: string;
  to: string;
  cc: string;
  date: string;
}

/** A MIME bomb's thousand parts make a thousand-entry list no reader needs: the first 200 are listed. */
export const MAX_PARTS = 200;

/** A leaf as the splitter saw it, before the parser's attachment list is laid over it (parse.ts). */
export type Leaf = Omit<MimePart, "attachment" | "related" | "verdict" | "filename" | "cid"> & { filename: string | null };

export interface PartRecorder {
  /** each splitter chunk, in order, before anything changes it */
  observe(chunk: SplitterChunk): void;
  /** the leaves, or null when the bytes counted are not the bytes given (then no offset is trusted) */
  finish(bytesGiven: number): { leaves: Leaf[]; omitted: number; type: string; reportType: string | null } | null;
}

/** `shift`: bytes the parser was given in front of the stored ones (top-level header lines repaired into
 * longer UTF-8, header-bytes.ts); every body lies after that header, so its offset moves by exactly this. */
export function createPartRecorder(shift: number): PartRecorder {
  let at = 0;
  let omitted = 0;
  let type = "text/plain";
  let reportType: string | null = null;
  const leaves: Leaf[] = [];
  let open: { node: MimeNode; leaf: Leaf | null } | null = null;
  const isLeaf = (node: MimeNode) => !node.multipart && !(node.rfc822 && node.messageNode);
  return {
    observe(chunk) {
      if (chunk.type === "node") {
        const node = chunk as MimeNode;
        at += node.getHeaders().length;
        if (node.root) {
          type = node.contentType || "text/plain";
          reportType = node.headers ? parameter(node.headers.get("content-type").join(" "), "report-type") : null;
        }
        if (!isLeaf(node)) { open = null; return; }
        const leaf = leaves.length < MAX_PARTS ? describe(node, at - shift) : null;
        if (leaf) leaves.push(leaf);
        else omitted++;
        open = { node, leaf };
        return;
      }
      const value = (chunk as { value?: Buffer }).value;
      const length = value ? value.length : 0;
      if (chunk.type === "body" && open?.leaf && chunk.node === open.node) {
        open.leaf.end = at + length - shift;
        open.leaf.size += decodedLength(value!, open.leaf.encoding);
      }
      at += length;
    },
    finish(bytesGiven) {
      return at === bytesGiven ? { leaves, omitted, type, reportType } : null;
    },
  };
}

/** The parser's attachments laid over the leaves they were read from, by part number (both come from
 * the same split): each leaf that is an attachment carries its index, its type and name as the parser
 * gave them, and its verdict. */
export function overlayAttachments(leaves: Leaf[], lean: LeanAttachment[], listed: ParsedMail["attachments"],
  policy: AttachmentPolicy | undefined): MimePart[] {
  const byPath = new Map(lean.slice(0, listed.length).map((a, i) => [a.partId ?? "", i] as const));
  return leaves.map((leaf): MimePart => {
    const i = byPath.get(leaf.path);
    const base = { ...leaf, contentType: sanitizeLine(leaf.contentType), charset: leaf.charset && sanitizeLine(leaf.charset),
      encoding: sanitizeLine(leaf.encoding).toLowerCase(), disposition: leaf.disposition && sanitizeLine(leaf.disposition),
      filename: leaf.filename && sanitizeLine(leaf.filename), cid: null };
    if (i === undefined) return base;
    const a = listed[i]!;
    return { ...base, attachment: i, contentType: a.contentType.toLowerCase(), filename: a.filename, size: a.size,
      cid: lean[i]!.cid ? sanitizeLine(lean[i]!.cid!) : null, ...(a.related ? { related: true } : {}),
      ...(policy ? { verdict: judgeAttachment(a, policy) } : {}) };
  });
}

function describe(node: MimeNode, start: number): Leaf {
  return {
    path: (node.partNr || []).filter((n) => typeof n === "number").join("."),
    start, end: start,
    contentType: node.contentType || "text/plain",
    charset: node.charset || null,
    encoding: node.encoding || "7bit",
    ...(node.flowed ? { flowed: true as const } : {}),
    ...(node.delSp ? { delSp: true as const } : {}),
    filename: node.filename || null,
    disposition: node.disposition || null,
    size: 0,
  };
}

/** RFC 2045 §5.1 parameter value, quoted or not. */
function parameter(header: string, name: string): string | null {
  return new RegExp(`;\\s*${name}\\s*=\\s*"?([\\w.-]+)`, "i").exec(header)?.[1]?.toLowerCase() ?? null;
}

/** About the decoded size of a chunk of body (an attachment's is replaced by the parser's exact count):
 * base64 gives three bytes for every four characters, its line breaks and padding none; quoted-printable
 * one byte for each `=XX`. Counted with indexOf (native), not a byte loop: a 25 MiB part is scanned fast. */
function decodedLength(bytes: Buffer, encoding: string): number {
  const count = (byte: number) => {
    let n = 0;
    for (let at = bytes.indexOf(byte); at !== -1; at = bytes.indexOf(byte, at + 1)) n++;
    return n;
  };
  if (encoding === "base64") return Math.floor(((bytes.length - count(0x0d) - count(0x0a) - count(0x3d)) * 3) / 4);
  if (encoding === "quoted-printable") return Math.max(0, bytes.length - 2 * count(0x3d));
  return bytes.length;
}
