// Delivery status notifications (RFC 3464): what a remote server reports about a mail we sent.
// Only the machine-readable part counts; the human text of a bounce is not parsed.
import type { MimeNode, SplitterChunk } from "@zone-eu/mailsplit/lib/types.js";
import { sanitizeLine } from "../core/sanitize.ts";
import { createSplitter } from "./mailsplit.ts";

/** RFC 3464 §2.3.3 Action values. */
export type ReportAction = "failed" | "delayed" | "delivered" | "relayed" | "expanded";

export interface RecipientReport {
  action: ReportAction;
  /** RFC 3463 status code, e.g. 5.1.1 */
  status: string | null;
  /** the remote server's words (Diagnostic-Code without its type) */
  diagnostic: string | null;
  /** Final-Recipient without its address type */
  recipient: string | null;
}

export interface DeliveryReport { reportingMta: string | null; recipients: RecipientReport[] }

const ACTIONS = new Set<string>(["failed", "delayed", "delivered", "relayed", "expanded"]);
const MAX_FIELD = 500;
const MAX_STATUS_BYTES = 64 * 1024;

/**
 * The report of a DSN: a multipart/report with report-type=delivery-status (RFC 3464 §2, RFC 6522) whose
 * message/delivery-status part (or message/global-delivery-status, RFC 6533) is a direct child.
 * Null for anything else (an auto-reply, a bounce in prose only): such mail is delivered as mail.
 */
export async function readDeliveryReport(raw: Buffer): Promise<DeliveryReport | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  let isReport = false;
  let statusNode: MimeNode | null = null;
  const splitter = createSplitter({ ignoreEmbedded: true, maxChildNodes: 64 });
  const done = new Promise<void>((resolve, reject) => {
    splitter.on("data", (chunk: SplitterChunk) => {
      if (chunk.type === "node") {
        const node = chunk as MimeNode;
        if (node.root) isReport = node.contentType === "multipart/report" && reportType(node) === "delivery-status";
        else if (isReport && !statusNode && node.parentNode && (node.parentNode as MimeNode).root
          && /^message\/(global-)?delivery-status$/.test(node.contentType || "")) statusNode = node;
      } else if (chunk.type === "body" && statusNode && chunk.node === statusNode && size < MAX_STATUS_BYTES) {
        const value = chunk.value as Buffer;
        chunks.push(value);
        size += value.length;
      }
    });
    splitter.on("end", resolve);
    splitter.on("error", reject);
  });
  splitter.end(raw);
  splitter.resume();
  await done;
  if (!statusNode) return null;
  const text = decode(Buffer.concat(chunks), (statusNode as MimeNode).encoding || "7bit");
  return parseStatusFields(text);
}

/** RFC 3464 §2.1: a per-message group, then one group per recipient, each in header syntax. */
export function parseStatusFields(text: string): DeliveryReport | null {
  const groups = text.replace(/\r\n?/g, "\n").split(/\n[ \t]*\n/).map(fields).filter((g) => g.size > 0);
  const [message, ...perRecipient] = groups;
  const recipients = perRecipient.flatMap((g): RecipientReport[] => {
    const action = g.get("action")?.toLowerCase().split(/\s/)[0] ?? "";
    if (!ACTIONS.has(action)) return [];
    return [{
      action: action as ReportAction,
      status: /\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(g.get("status") ?? "")?.[0] ?? null,
      diagnostic: typed(g.get("diagnostic-code")),
      recipient: typed(g.get("final-recipient")),
    }];
  });
  if (!message || recipients.length === 0) return null;
  return { reportingMta: typed(message.get("reporting-mta")), recipients };
}

/** One group of `Name: value` lines with RFC 5322 §2.2.3 folding; first occurrence wins. */
function fields(group: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of group.replace(/\n[ \t]+/g, " ").split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!out.has(name)) out.set(name, line.slice(colon + 1).trim());
  }
  return out;
}

/** `rfc822; alice@example.com` / `smtp; 550 …` → the value after the type (RFC 3464 §2.1.2). */
function typed(value: string | undefined): string | null {
  if (!value) return null;
  const semi = value.indexOf(";");
  const out = sanitizeLine(semi >= 0 ? value.slice(semi + 1) : value).slice(0, MAX_FIELD);
  return out || null;
}

function reportType(node: MimeNode): string | null {
  const header = node.headers ? node.headers.get("content-type").join(" ") : "";
  return /report-type\s*=\s*"?([\w-]+)/i.exec(header)?.[1]?.toLowerCase() ?? null;
}

function decode(body: Buffer, encoding: string): string {
  if (encoding === "base64") return Buffer.from(body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable") {
    const soft = body.toString("latin1").replace(/=\r?\n/g, "");
    return Buffer.from(soft.replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");
  }
  return body.toString("utf8");
}
