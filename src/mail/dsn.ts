// Delivery status notifications (RFC 3464): what a remote server reports about a mail we sent.
// Only the machine-readable part counts; the human text of a bounce is not parsed.
import { sanitizeLine } from "../core/sanitize.ts";
import type { MailStructure } from "./mime-parts.ts";
import { decodeTransfer } from "./transfer-decoding.ts";

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
  /** Original-Recipient without its address type (RFC 3464 §2.3.1), when given */
  originalRecipient?: string | null;
}

export interface DeliveryReport { reportingMta: string | null; recipients: RecipientReport[] }

const ACTIONS = new Set<string>(["failed", "delayed", "delivered", "relayed", "expanded"]);
const MAX_FIELD = 500;
const MAX_STATUS_BYTES = 64 * 1024;

/**
 * The report of a DSN: a multipart/report with report-type=delivery-status (RFC 3464 §2, RFC 6522) whose
 * message/delivery-status part (or message/global-delivery-status, RFC 6533) is a direct child. Read from
 * the structure the parse pool found (mime-parts.ts), in the same job: the status part's bytes, at most
 * MAX_STATUS_BYTES of them. Null for anything else (an auto-reply, a bounce in prose only): such mail is
 * delivered as mail.
 */
export function deliveryReportOf(structure: Pick<MailStructure, "type" | "reportType" | "parts">, raw: Buffer): DeliveryReport | null {
  if (structure.type !== "multipart/report" || structure.reportType !== "delivery-status") return null;
  const status = structure.parts.find((p) => !p.path.includes(".") && /^message\/(global-)?delivery-status$/.test(p.contentType));
  if (!status) return null;
  const body = raw.subarray(status.start, Math.min(status.end, status.start + MAX_STATUS_BYTES));
  return parseStatusFields(decodeTransfer(body, status.encoding).toString("utf8"));
}

/** RFC 3464 §2.1: a per-message group, then one group per recipient, each in header syntax. */
export function parseStatusFields(text: string): DeliveryReport | null {
  const groups = text.replace(/\r\n?/g, "\n").split(/\n[ \t]*\n/).map(fields).filter((g) => g.size > 0);
  const [message, ...perRecipient] = groups;
  const recipients = perRecipient.flatMap((g): RecipientReport[] => {
    const action = g.get("action")?.toLowerCase().split(/\s/)[0] ?? "";
    if (!ACTIONS.has(action)) return [];
    const original = typed(g.get("original-recipient"));
    return [{
      action: action as ReportAction,
      status: /\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(g.get("status") ?? "")?.[0] ?? null,
      diagnostic: typed(g.get("diagnostic-code")),
      recipient: typed(g.get("final-recipient")),
      ...(original ? { originalRecipient: original } : {}),
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
