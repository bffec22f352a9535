// Mail to a VERP bounce address: a delivery status notification about one of our outgoing
// mails becomes words for the user who sent it; anything else sent there (an auto-reply) is mail.
import { addressToJid } from "../core/addresses.ts";
import { unattended } from "../core/role-addresses.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { ChatMessage, MailAddress, PlannedDelivery, Recipient } from "../core/types.ts";
import type { DeliveryReport, RecipientReport } from "../mail/dsn.ts";
import type { Claimed, Prepared } from "./worker.ts";

export interface Plan {
  deliveries: PlannedDelivery[];
  /** outgoing deliveries the report proves failed (RFC 3464 Action: failed) */
  failOutbound: { id: number; why: string }[];
  /** outgoing deliveries a report named by its bounce secret but whose recipient it does not name:
   * nothing is shown or changed, only logged (docs/design.md §Who speaks for a delivery) */
  ignored: { id: number; named: string[] }[];
}

/** An address as a report writes it (`rfc822;` already gone): no angle brackets, compared in lower case. */
const plain = (address: string) => address.trim().replace(/^<(.*)>$/, "$1").trim().toLowerCase();

/**
 * Whether a recipient report is about `recipient`, the address our mail went to: its Final-Recipient or
 * its Original-Recipient (RFC 3464 §2.3.1, §2.3.2) names it, case-insensitively.
 */
export function namesRecipient(r: RecipientReport, recipient: string): boolean {
  const wanted = plain(recipient);
  return [r.recipient, r.originalRecipient].some((a) => typeof a === "string" && plain(a) === wanted);
}

/** The one recipient report that matters for a mail we sent to `recipient`: a failure, else a delay. */
export function decisiveReport(report: DeliveryReport | null, recipient: string): RecipientReport | null {
  if (!report) return null;
  const about = report.recipients.filter((r) => namesRecipient(r, recipient));
  return about.find((r) => r.action === "failed") ?? about.find((r) => r.action === "delayed") ?? null;
}

/** The remote server's words, as the user will read them. */
export function reportWords(r: RecipientReport, reportingMta: string | null): string {
  const said = r.diagnostic ?? r.status ?? "no reason given";
  return `${said}${reportingMta ? ` (reported by ${reportingMta})` : ""}`;
}

/**
 * Which delivery rows an accepted mail gets. A mailbox recipient gets the mail. A bounce address gets a
 * report when the mail is an RFC 3464 failure or delay notice about the recipient that mail went to;
 * success notices (delivered, relayed, expanded) are kept without a delivery, and so is a report about
 * anyone else (whoever wrote it knew the bounce address, not where the mail went); anything else sent
 * to a bounce address goes to the user as mail, so nothing is lost. Never an automatic answer to any
 * of it (RFC 3834 §2).
 */
export function planDeliveries(recipients: Recipient[], report: DeliveryReport | null): Plan {
  const plan: Plan = { deliveries: [], failOutbound: [], ignored: [] };
  for (const r of recipients) {
    const about = r.bounceOf;
    if (r.admins) {
      // A role address without a mailbox (core/role-addresses.ts): one delivery per administrator.
      const to = r.addressedTo ? { addressedTo: r.addressedTo } : {};
      if (r.admins.length === 0) plan.deliveries.push({ kind: "mail", recipient: r.address, jid: r.jid, originStanzaId: null, ...to, failed: unattended(r.address) });
      for (const jid of r.admins) plan.deliveries.push({ kind: "mail", recipient: r.address, jid, originStanzaId: null, ...to });
      continue;
    }
    if (!about || !report) {
      plan.deliveries.push({ kind: r.room ? "room" : "mail", recipient: r.address, jid: r.jid, originStanzaId: null,
        ...(r.addressedTo ? { addressedTo: r.addressedTo } : {}) });
      continue;
    }
    if (!report.recipients.some((x) => namesRecipient(x, about.correspondent))) {
      plan.ignored.push({ id: about.deliveryId, named: report.recipients.flatMap((x) => [x.recipient, x.originalRecipient ?? null])
        .filter((a): a is string => a !== null) });
      continue;
    }
    const decisive = decisiveReport(report, about.correspondent);
    if (!decisive) continue;
    plan.deliveries.push({ kind: "report", recipient: about.correspondent, jid: about.userJid, originStanzaId: about.originStanzaId });
    if (decisive.action === "failed") {
      plan.failOutbound.push({ id: about.deliveryId, why: `bounced: ${reportWords(decisive, report.reportingMta)}` });
    }
  }
  return plan;
}

/** What a report delivery puts on the wire: an RFC 6120 §8.3 error on the user's original message
 * (to the full JID that sent it; servers drop errors to absent resources) and the same words as a chat
 * message from the contact to the bare JID, which offline storage and archives keep. */
export interface ReportStanzas {
  kind: "report";
  error: { from: string; to: string; id: string; text: string } | null;
  notice: ChatMessage;
}

export interface ReportDelivery extends Claimed {
  messageId: number;
  recipient: string;
  originStanzaId: string | null;
  /** read with the claim (store/deliveries.ts claim): null when the row is gone */
  stored: { report: unknown } | null;
}

export function createReportPreparer(config: { componentDomain: string }) {
  return <T extends ReportDelivery>(batch: T[]): Prepared<T, ReportStanzas>[] =>
    batch.map((delivery) => {
      const report = delivery.stored?.report as DeliveryReport | null | undefined;
      const decisive = decisiveReport(report ?? null, delivery.recipient);
      if (!report || !decisive) return { delivery, error: "delivery report is missing or unreadable" };
      const contact = addressToJid(delivery.recipient as MailAddress, config.componentDomain);
      const words = sanitizeLine(reportWords(decisive, report.reportingMta));
      const text = decisive.action === "failed"
        ? `Your mail to ${delivery.recipient} could not be delivered: ${words}`
        : `Your mail to ${delivery.recipient} is delayed: ${words}. The remote server keeps trying.`;
      const bare = delivery.jid.split("/")[0]!;
      return {
        delivery,
        message: {
          kind: "report",
          error: decisive.action === "failed" && delivery.originStanzaId && delivery.jid.includes("/")
            ? { from: contact, to: delivery.jid, id: delivery.originStanzaId, text } : null,
          notice: { id: delivery.stanzaId, from: contact, to: bare, body: text, nick: null, delay: null },
        },
      };
    });
}
