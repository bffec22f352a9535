// What happens to a mail between the end of DATA and the `250` (invariant 1): authenticate the sender,
// add our trace fields, parse, decide which deliveries it makes, and store it all in one transaction.
import { judge, type AuthMode } from "../core/auth-policy.ts";
import { judgeSpam, type FilterOutcome } from "../core/spam-policy.ts";
import { splitBlocked } from "../core/blocks.ts";
import { crashPoint } from "../ops/crash.ts";
import type { ParsedMail, SpamVerdict } from "../core/types.ts";
import type { CheckInput } from "../mail/rspamd.ts";
import type { AuthOutcome, AuthInput } from "../mail/auth.ts";
import type { MailRead } from "../mail/parse.ts";
import type { Logger } from "../log.ts";
import { prependHeader } from "../mail/raw-buffer.ts";
import { receivedHeader } from "../mail/compose.ts";
import { planDeliveries } from "./reports.ts";
import type { Envelope } from "../smtp/server.ts";
import { replies, SmtpReply } from "../smtp/replies.ts";
import type { MessageStore } from "../store/messages.ts";

export interface IntakeConfig {
  hostname: string; mailDomains: string[]; authMode: AuthMode | "off";
  /** what a mail gets when the content filter cannot answer (docs/design.md §Spam) */
  spamUnavailable?: "tempfail" | "accept";
}

export interface IntakeDeps {
  authenticate: ((input: AuthInput) => Promise<AuthOutcome>) | null;
  /** the one parse of the mail, in the parse pool (docs/design.md §Parsing once) */
  read(raw: Buffer): Promise<MailRead>;
  /** the content filter (mail/rspamd.ts); null: none */
  filter?: ((input: CheckInput) => Promise<FilterOutcome>) | null;
  store: Pick<MessageStore, "accept">;
  newId(): string;
  now(): Date;
  log?: Pick<Logger, "warn" | "info">;
}

export function createIntake(config: IntakeConfig, deps: IntakeDeps) {
  return async function accept(envelope: Envelope, raw: Buffer): Promise<{ token: string }> {
    let authHeaders = "";
    let authentication: ParsedMail["authentication"] = null;
    if (deps.authenticate && config.authMode !== "off") {
      const outcome = await deps.authenticate({ ip: envelope.remoteAddress, helo: envelope.helo, mailFrom: envelope.mailFrom, raw })
        .catch(() => null);
      // A failure of the checks themselves is ours: the sender retries (invariant 1: never a 5xx for it).
      if (!outcome) throw new SmtpReply(451, "4.7.0 Temporary failure while authenticating the sender; try again later");
      const decision = judge(outcome.facts, { mode: config.authMode, ourDomains: config.mailDomains });
      if (decision.kind === "refuse") throw new SmtpReply(decision.code, `${decision.enhanced} ${decision.text}`);
      authHeaders = outcome.headers;
      authentication = { verified: decision.verified, warning: decision.warning };
    }
    const queueId = deps.newId();
    // docs/design.md §Spam: the filter sees the mail as the sender sent it, beside the parse; its
    // refusal comes before anything is stored, like the sender checks above.
    const filtered = deps.filter ? deps.filter({ raw, mailFrom: envelope.mailFrom, ip: envelope.remoteAddress, helo: envelope.helo,
      recipients: envelope.recipients.map((r) => r.address), queueId }).then((o) => judgeSpam(o, config.spamUnavailable ?? "tempfail")) : null;
    const trace = receivedHeader({ ...envelope, by: config.hostname, id: queueId,
      // RFC 5321 §4.4: `for` names the address as the sender gave it (a subaddress, a catch-all's address).
      recipient: envelope.recipients.length === 1 ? envelope.recipients[0]!.addressedTo ?? envelope.recipients[0]!.address : null, date: deps.now() });
    // RFC 8601 §5 / RFC 5321 §4.4: our fields go on top, Authentication-Results above our Received.
    // Into the room kept in front of a large mail: no second copy of it (mail/raw-buffer.ts).
    const full = prependHeader(Buffer.from(authHeaders.replace(/\r?\n/g, "\r\n") + trace, "utf8"), raw);
    const [read, decision] = await Promise.all([deps.read(full), filtered]);
    if (decision?.kind === "refuse") throw new SmtpReply(decision.code, decision.text);
    const spam: SpamVerdict | null = decision?.verdict ?? null;
    // docs/design.md §Spam: the From a recipient's user blocked; refused when no recipient is left.
    const { kept: recipients, blocked } = splitBlocked(envelope.recipients, read.mail.fromAddress);
    if (blocked.length > 0) {
      deps.log?.info({ queueId, from: read.mail.fromAddress, blocked: blocked.map((r) => r.address) }, "not delivered: the recipient blocked the From address");
      if (recipients.length === 0) throw replies.blockedSender();
    }
    // The report counts only for mail to a bounce address: it speaks about mail we sent (RFC 3464 §2).
    const report = recipients.some((r) => r.bounceOf) ? read.report : null;
    const parsed = { ...read.mail, authentication, spam };
    const { ignored, ...planned } = planDeliveries(recipients, report);
    // Spam for a mailbox that holds it waits for its user (docs/design.md §Spam).
    const holds = new Set(decision?.kind === "accept" && decision.spam
      ? recipients.filter((r) => r.holdSpam && !r.bounceOf).map((r) => r.address.toLowerCase()) : []);
    const plan = { ...planned, deliveries: planned.deliveries.map((d) =>
      d.kind === "mail" && !d.failed && holds.has(d.recipient.toLowerCase()) ? { ...d, held: true } : d) };
    const stored = await deps.store.accept({ ...envelope, raw: full, parsed, parts: read.structure, report, ...plan });
    crashPoint("after-commit");
    // docs/design.md §Who speaks for a delivery: a report about another recipient is kept, never shown.
    for (const i of ignored) deps.log?.warn({ queueId: stored.token, delivery: i.id, named: i.named }, "delivery report ignored: it names another recipient");
    return stored;
  };
}
