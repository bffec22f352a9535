// What happens to a mail between the end of DATA and the `250` (invariant 1): authenticate the sender,
// add our trace fields, parse, decide which deliveries it makes, and store it all in one transaction.
import { judge, type AuthMode } from "../core/auth-policy.ts";
import { crashPoint } from "../ops/crash.ts";
import type { ParsedMail } from "../core/types.ts";
import type { AuthOutcome, AuthInput } from "../mail/auth.ts";
import type { MailRead } from "../mail/parse.ts";
import type { Logger } from "../log.ts";
import { prependHeader } from "../mail/raw-buffer.ts";
import { receivedHeader } from "../mail/compose.ts";
import { planDeliveries } from "./reports.ts";
import type { Envelope } from "../smtp/server.ts";
import { SmtpReply } from "../smtp/replies.ts";
import type { MessageStore } from "../store/messages.ts";

export interface IntakeConfig { hostname: string; mailDomains: string[]; authMode: AuthMode | "off" }

export interface IntakeDeps {
  authenticate: ((input: AuthInput) => Promise<AuthOutcome>) | null;
  /** the one parse of the mail, in the parse pool (docs/design.md §Parsing once) */
  read(raw: Buffer): Promise<MailRead>;
  store: Pick<MessageStore, "accept">;
  newId(): string;
  now(): Date;
  log?: Pick<Logger, "warn">;
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
    const trace = receivedHeader({ ...envelope, by: config.hostname, id: deps.newId(),
      // RFC 5321 §4.4: `for` names the address as the sender gave it (a subaddress, a catch-all's address).
      recipient: envelope.recipients.length === 1 ? envelope.recipients[0]!.addressedTo ?? envelope.recipients[0]!.address : null, date: deps.now() });
    // RFC 8601 §5 / RFC 5321 §4.4: our fields go on top, Authentication-Results above our Received.
    // Into the room kept in front of a large mail: no second copy of it (mail/raw-buffer.ts).
    const full = prependHeader(Buffer.from(authHeaders.replace(/\r?\n/g, "\r\n") + trace, "utf8"), raw);
    const read = await deps.read(full);
    // The report counts only for mail to a bounce address: it speaks about mail we sent (RFC 3464 §2).
    const report = envelope.recipients.some((r) => r.bounceOf) ? read.report : null;
    const parsed = { ...read.mail, authentication };
    const { ignored, ...plan } = planDeliveries(envelope.recipients, report);
    const stored = await deps.store.accept({ ...envelope, raw: full, parsed, parts: read.structure, report, ...plan });
    crashPoint("after-commit");
    // docs/design.md §Who speaks for a delivery: a report about another recipient is kept, never shown.
    for (const i of ignored) deps.log?.warn({ queueId: stored.token, delivery: i.id, named: i.named }, "delivery report ignored: it names another recipient");
    return stored;
  };
}
