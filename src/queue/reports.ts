// Mail to a VERP bounce address (issue #3): a delivery status notification about one of our outgoing
// mails becomes words for the user who sent it; anything else sent there (an auto-reply) is mail.
import { addressToJid } from "../core/addresses.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { ChatMessage, MailAddress, PlannedDelivery, Recipient } from "../core/types.ts";
import type { DeliveryReport, RecipientReport } from "../mail/dsn.ts";
import type { Claimed, Prepared } from "./worker.ts";

export interface Plan {
  deliveries: PlannedDelivery[];
  /** outgoing deliveries the report proves failed (RFC 3464 Action: failed) */
  failOutbound: { id: number; why: string }[];
}

/** The one recipient report that matters for a mail we sent to one address: a failure, else a delay. */
export function decisiveReport(report: DeliveryReport | null): RecipientReport | null {
  if (!report) return null;
  return report.recipients.find((r) => r.action === "failed") ?? report.recipients.find((r) => r.action === "delayed") ?? null;
}

/** The remote server's words, as the user will read them. */
export function reportWords(r: RecipientReport, reportingMta: string | null): string {
  const said = r.diagnostic ?? r.status ?? "no reason given";
  return `${said}${reportingMta ? ` (reported by ${reportingMta})` : ""}`;
}

/**
 * Which delivery rows an accepted mail gets. A mailbox recipient gets the mail. A bounce address gets a
 * report when the mail is an RFC 3464 failure or delay notice; success notices (delivered, relayed,
 * expanded) are kept without a delivery; anything else sent to a bounce address goes to the user as mail,
 * so nothing is lost. Never an automatic answer to any of it (RFC 3834 §2).
 */
export function planDeliveries(recipients: Recipient[], report: DeliveryReport | null): Plan {
  const plan: Plan = { deliveries: [], failOutbound: [] };
  const decisive = decisiveReport(report);
  for (const r of recipients) {
    const about = r.bounceOf;
    if (!about || !report) {
      plan.deliveries.push({ kind: "mail", recipient: r.address, jid: r.jid, originStanzaId: null });
      continue;
    }
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
      const decisive = decisiveReport(report ?? null);
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
