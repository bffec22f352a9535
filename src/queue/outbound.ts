// Chat → mail: who may send what (invariant 5), threading, and the relay loop with retry and words
// for the user (issue #3). No SQL here: the stores come in as plain functions.
import { addressToJid, domainOf, jidToAddress } from "../core/addresses.ts";
import { mailText, replySubject, subjectFromText, type IncomingChat } from "../core/outgoing.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { MailAddress } from "../core/types.ts";
import type { Logger } from "../log.ts";
import type { OutgoingMail } from "../mail/render.ts";
import { retryDelaySeconds } from "./retry.ts";

type Verdict =
  | { kind: "queued" } | { kind: "ignored" }
  | { kind: "refused"; type: "cancel" | "modify" | "auth" | "wait"; condition: string; text: string };

interface Parent { mailbox: string; subject: string; messageId: string | null; references: string[] }

export interface OutboundDeps {
  ownedBy(jid: string): Promise<{ address: string }[]>;
  byStanzaId(id: string, mailboxes: string[]): Promise<Parent | undefined>;
  latestFrom(correspondent: string, mailboxes: string[]): Promise<Parent | undefined>;
  render(mail: OutgoingMail): Promise<Buffer>;
  queue(input: { token: string; mailbox: string; to: string; subject: string; body: string; messageId: string;
    raw: Buffer; jid: string; originStanzaId: string | null }): Promise<number>;
  newToken(): string;
  now(): Date;
}

const refuse = (type: "cancel" | "modify" | "auth", condition: string, text: string): Verdict =>
  ({ kind: "refused", type, condition, text });

export function createOutbound(config: { componentDomain: string }, deps: OutboundDeps) {
  return async function acceptChat(chat: IncomingChat): Promise<Verdict> {
    if (chat.encrypted) {
      // Its body is a fallback ("I sent you an OMEMO message…"): mailing it would mislead both sides.
      return refuse("modify", "not-acceptable", `This contact is an e-mail address: ${chat.encrypted} messages cannot be mailed. Send it without end-to-end encryption if it may travel as e-mail.`);
    }
    const to = jidToAddress(chat.to, config.componentDomain);
    if (!to) return refuse("modify", "jid-malformed", "This contact does not stand for a valid e-mail address.");
    const sender = (chat.from.split("/")[0] ?? "").toLowerCase();
    const owned = await deps.ownedBy(sender);
    if (owned.length === 0) {
      return refuse("auth", "forbidden", "Only accounts with a mailbox on this gateway can send e-mail; nothing was sent.");
    }
    const text = mailText(chat);
    if (!text) return { kind: "ignored" };
    const addresses = owned.map((m) => m.address);
    const parent = (chat.replyTo ? await deps.byStanzaId(chat.replyTo, addresses) : undefined)
      ?? await deps.latestFrom(to, addresses);
    // The mailbox the conversation was addressed to, else the oldest (issue #3).
    const mailbox = owned.find((m) => parent && m.address.toLowerCase() === parent.mailbox.toLowerCase()) ?? owned[0]!;
    const subject = chat.subject?.trim() ? sanitizeLine(chat.subject)
      : parent ? replySubject(parent.subject) : subjectFromText(text);
    const token = deps.newToken();
    const messageId = `${token}@${domainOf(mailbox.address as MailAddress)}`;
    const raw = await deps.render({
      from: { address: mailbox.address, name: null },
      to,
      subject,
      text,
      messageId,
      inReplyTo: parent?.messageId ?? null,
      references: parent ? [...parent.references, ...(parent.messageId ? [parent.messageId] : [])] : [],
      jabberId: sender,
      date: deps.now(),
    });
    await deps.queue({ token, mailbox: mailbox.address, to, subject, body: text, messageId, raw, jid: chat.from,
      originStanzaId: chat.id });
    return { kind: "queued" };
  };
}

export interface RelayLoopDeps {
  log: Logger;
  claim(worker: string, limit: number, leaseSeconds: number): Promise<{ id: number; messageId: number; recipient: string;
    jid: string; attempts: number; createdAt: Date; originStanzaId: string | null; delayNotified: boolean }[]>;
  load(messageId: number): Promise<{ mailFrom: string; raw: Buffer } | undefined>;
  send(envelope: { from: string; to: string }, raw: Buffer): Promise<string>;
  markDelivered(worker: string, ids: number[]): Promise<unknown>;
  retryLater(worker: string, id: number, seconds: number, why: string, notified: boolean): Promise<void>;
  fail(id: number, why: string): Promise<void>;
  notify(from: string, to: string, text: string): Promise<void>;
  lateError(from: string, to: string, id: string | null, text: string): Promise<void>;
}

export interface RelayLoopConfig { id: string; componentDomain: string; maxAgeSeconds: number; schedule?: readonly number[] }

/** One pass over the due outgoing mail; resolves true when it found some (more may be waiting). */
export function createRelayPass(config: RelayLoopConfig, deps: RelayLoopDeps) {
  const tell = (what: Promise<void>) => what.catch((err: Error) => deps.log.warn({ err: err.message }, "could not tell the user"));
  return async function relayPass(): Promise<boolean> {
    const batch = await deps.claim(config.id, 10, 300);
    for (const d of batch) {
      const contact = addressToJid(d.recipient as MailAddress, config.componentDomain);
      const message = await deps.load(d.messageId);
      if (!message) {
        await deps.fail(d.id, "message row is missing");
        continue;
      }
      try {
        const reply = await deps.send({ from: message.mailFrom, to: d.recipient }, message.raw);
        await deps.markDelivered(config.id, [d.id]);
        deps.log.info({ delivery: d.id, to: d.recipient, reply }, "mail sent through the relay");
      } catch (err) {
        const failure = err as Error & { permanent?: boolean; text?: string };
        const text = failure.text ?? failure.message;
        const expired = Date.now() - d.createdAt.getTime() > config.maxAgeSeconds * 1000;
        if (failure.permanent || expired) {
          const why = failure.permanent ? `the relay refused it: ${text}` : `gave up after ${Math.round(config.maxAgeSeconds / 3600)} h: ${text}`;
          await deps.fail(d.id, why);
          deps.log.warn({ delivery: d.id, to: d.recipient, reason: why }, "outgoing mail failed");
          await tell(deps.lateError(contact, d.jid, d.originStanzaId, `Your mail to ${d.recipient} was not sent: ${why}`));
        } else {
          const delay = retryDelaySeconds(d.attempts, config.schedule);
          await deps.retryLater(config.id, d.id, delay, text, true);
          deps.log.info({ delivery: d.id, to: d.recipient, retryIn: delay, reason: text }, "outgoing mail delayed");
          if (!d.delayNotified) {
            await tell(deps.notify(contact, d.jid, `Your mail to ${d.recipient} is delayed (${text}); the gateway keeps trying.`));
          }
        }
      }
    }
    return batch.length > 0;
  };
}
