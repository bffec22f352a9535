// Chat → mail: who may send what (invariant 5), threading, and the relay loop with retry and words
// for the user (issue #3). No SQL here: the stores come in as plain functions.
import { addressToJid, domainOf, jidToAddress } from "../core/addresses.ts";
import { mailText, replySubject, sharedFileUrl, subjectFromText, type IncomingChat } from "../core/outgoing.ts";
import { bounceAddress } from "../core/verp.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import type { MailAddress, QueuedMail, SendLimit, ThreadParent } from "../core/types.ts";
import type { Logger } from "../log.ts";
import type { OutgoingMail } from "../mail/render.ts";
import { crashPoint } from "../crash.ts";
import { retryDelaySeconds } from "./retry.ts";

type Verdict =
  | { kind: "queued" } | { kind: "ignored" }
  | { kind: "refused"; type: "cancel" | "modify" | "auth" | "wait"; condition: string; text: string; notice?: string };


export interface OutboundDeps {
  ownedBy(jid: string): Promise<{ address: string; displayName: string | null }[]>;
  byStanzaId(id: string, mailboxes: string[]): Promise<ThreadParent | undefined>;
  latestFrom(correspondent: string, mailboxes: string[]): Promise<ThreadParent | undefined>;
  render(mail: OutgoingMail): Promise<Buffer>;
  /** Fetch a file the user shared (XEP-0066/0363); rejects with words for the user. Absent: links stay text. */
  fetchFile?(url: string): Promise<{ filename: string; contentType: string; content: Buffer }>;
  /** Queue it unless the mailbox is over a limit: the count and the insert are one atomic step. */
  queue(input: QueuedMail, limit: SendLimit): Promise<{ queued: number } | { over: "minute" | "day" }>;
  newToken(): string;
  now(): Date;
}

const refuse = (type: "cancel" | "modify" | "auth" | "wait", condition: string, text: string): Verdict =>
  ({ kind: "refused", type, condition, text });

/** A display name is one line a person reads as identity: bounded, no invisible formatting. */
const displayName = (nick: string | null | undefined) => (nick ? sanitizeLine(nick).slice(0, 64) || null : null);

/** The chat notice about a limit is said at most this often per mailbox; the stanza error every time. */
const LIMIT_NOTICE_MS = 10 * 60_000;

export function createOutbound(config: { componentDomain: string; sendLimit: SendLimit }, deps: OutboundDeps) {
  const noticed = new Map<string, number>();
  return async function acceptChat(chat: IncomingChat): Promise<Verdict> {
    if (chat.encrypted) {
      // Its body is a fallback ("I sent you an OMEMO message…"): mailing it would mislead both sides.
      return refuse("modify", "not-acceptable", `This contact is an e-mail address: ${chat.encrypted} messages cannot be mailed. Send it without end-to-end encryption if it may travel as e-mail.`);
    }
    const contact = jidToAddress(chat.to, config.componentDomain);
    if (!contact) return refuse("modify", "jid-malformed", "This contact does not stand for a valid e-mail address.");
    const sender = (chat.from.split("/")[0] ?? "").toLowerCase();
    const owned = await deps.ownedBy(sender);
    if (owned.length === 0) {
      return refuse("auth", "forbidden", "Only accounts with a mailbox on this gateway can send e-mail; nothing was sent.");
    }
    const shared = sharedFileUrl(chat);
    if (shared && /^aesgcm:/i.test(shared)) {
      // XEP-0454: the key is in the fragment and the file is ciphertext; mailing either would mislead.
      return refuse("modify", "not-acceptable", "This file is encrypted end to end (OMEMO): it cannot be mailed. Send it without encryption if it may travel as e-mail.");
    }
    let file: Awaited<ReturnType<NonNullable<OutboundDeps["fetchFile"]>>> | null = null;
    if (shared && deps.fetchFile && (chat.oobUrl || (chat.body ?? "").trim() === shared)) {
      try {
        file = await deps.fetchFile(shared);
      } catch (err) {
        // An explicit share that cannot be fetched is refused; a bare link from elsewhere stays a link.
        if (chat.oobUrl) return refuse("modify", "not-acceptable", (err as Error).message);
      }
    }
    const rawText = mailText(chat);
    const text = file && rawText.trim() === shared ? "" : rawText;
    if (!text && !file) return { kind: "ignored" };
    const addresses = owned.map((m) => m.address);
    const parent = chat.fresh ? undefined : (chat.replyTo ? await deps.byStanzaId(chat.replyTo, addresses) : undefined)
      ?? await deps.latestFrom(contact, addresses);
    // The contact JID is case-folded (core/addresses.ts): write to the address as the correspondent spelled it.
    const to = parent?.correspondent && parent.correspondent.toLowerCase() === contact.toLowerCase()
      ? parent.correspondent as MailAddress : contact;
    // The mailbox the conversation was addressed to, else the oldest (issue #3).
    const mailbox = owned.find((m) => parent && m.address.toLowerCase() === parent.mailbox.toLowerCase()) ?? owned[0]!;
    const subject = chat.subject?.trim() ? sanitizeLine(chat.subject)
      : parent ? replySubject(parent.subject) : subjectFromText(text || file!.filename);
    const token = deps.newToken();
    const messageId = `${token}@${domainOf(mailbox.address as MailAddress)}`;
    const raw = await deps.render({
      from: { address: mailbox.address, name: displayName(chat.nick) ?? displayName(mailbox.displayName) },
      to,
      subject,
      text,
      messageId,
      inReplyTo: parent?.messageId ?? null,
      references: parent ? [...parent.references, ...(parent.messageId ? [parent.messageId] : [])] : [],
      jabberId: sender,
      date: deps.now(),
      ...(file ? { attachments: [file] } : {}),
    });
    const result = await deps.queue({ token, mailbox: mailbox.address, to, subject, body: text, messageId, raw,
      // VERP: a report about this mail comes back to an address that names it.
      mailFrom: bounceAddress(token, mailbox.address as MailAddress),
      jid: chat.from, originStanzaId: chat.id, receiptRequested: chat.receiptRequested }, config.sendLimit);
    if ("queued" in result) return { kind: "queued" };
    const why = result.over === "minute"
      ? `Not sent: ${mailbox.address} may send ${config.sendLimit.perMinute} mails a minute. Wait a minute and send it again.`
      : `Not sent: ${mailbox.address} may send ${config.sendLimit.perDay} mails a day. Send it again tomorrow.`;
    // RFC 6120 §8.3.3.12 policy-violation; type wait: the same message may go through later.
    const verdict = { kind: "refused", type: "wait", condition: "policy-violation", text: why } as const;
    const key = mailbox.address.toLowerCase();
    const last = noticed.get(key);
    const now = deps.now().getTime();
    if (last === undefined || now - last > LIMIT_NOTICE_MS) {
      noticed.set(key, now);
      if (noticed.size > 10_000) noticed.clear(); // bounded memory; at worst one extra notice
      return { ...verdict, notice: why };
    }
    return verdict;
  };
}

export interface RelayLoopDeps {
  log: Logger;
  claim(worker: string, limit: number, leaseSeconds: number): Promise<{ id: number; messageId: number; recipient: string;
    jid: string; attempts: number; createdAt: Date; originStanzaId: string | null; delayNotified: boolean;
    receiptRequested: boolean }[]>;
  load(messageId: number): Promise<{ mailFrom: string; raw: Buffer } | undefined>;
  send(envelope: { from: string; to: string }, raw: Buffer): Promise<string>;
  markDelivered(worker: string, ids: number[]): Promise<unknown>;
  retryLater(worker: string, id: number, seconds: number, why: string, notified: boolean): Promise<void>;
  fail(id: number, why: string): Promise<void>;
  notify(from: string, to: string, text: string): Promise<void>;
  lateError(from: string, to: string, id: string | null, text: string): Promise<void>;
  receipt(from: string, to: string, id: string): Promise<void>;
}

export interface RelayLoopConfig {
  id: string; componentDomain: string; maxAgeSeconds: number; schedule?: readonly number[];
  /** how long a claimed mail is ours; a crash leaves it to another worker after this */
  leaseSeconds?: number;
}

/** The relay's pooled connections (smtp/sender.ts maxConnections) and how many mails a pass claims. */
const PARALLEL = 4;
const CLAIM = 20;

/** One pass over the due outgoing mail; resolves true when it found some (more may be waiting). */
export function createRelayPass(config: RelayLoopConfig, deps: RelayLoopDeps) {
  const tell = (what: Promise<void>) => what.catch((err: Error) => deps.log.warn({ err: err.message }, "could not tell the user"));
  type Claimed = Awaited<ReturnType<RelayLoopDeps["claim"]>>[number];

  async function relayOne(d: Claimed): Promise<void> {
    const contact = addressToJid(d.recipient as MailAddress, config.componentDomain);
    const message = await deps.load(d.messageId);
    if (!message) {
      await deps.fail(d.id, "message row is missing");
      return;
    }
    try {
      const reply = await deps.send({ from: message.mailFrom, to: d.recipient }, message.raw);
      crashPoint("after-relay-send");
      await deps.markDelivered(config.id, [d.id]);
      deps.log.info({ delivery: d.id, to: d.recipient, reply }, "mail sent through the relay");
      // XEP-0184 §5.1: "received" once the mail has left our hands, i.e. the relay took it.
      if (d.receiptRequested && d.originStanzaId) await tell(deps.receipt(contact, d.jid, d.originStanzaId));
    } catch (err) {
      const failure = err as Error & { permanent?: boolean; text?: string };
      const text = failure.text ?? failure.message;
      const expired = Date.now() - d.createdAt.getTime() > config.maxAgeSeconds * 1000;
      if (failure.permanent || expired) {
        const why = failure.permanent ? `the relay refused it: ${text}` : `gave up after ${Math.round(config.maxAgeSeconds / 3600)} h: ${text}`;
        await deps.fail(d.id, why);
        deps.log.warn({ delivery: d.id, to: d.recipient, reason: why }, "outgoing mail failed");
        const words = `Your mail to ${d.recipient} was not sent: ${why}`;
        // The error marks the message in the client that wrote it (RFC 6120 §8.3; servers drop errors to
        // absent resources); the same words as a chat message reach the user's other and later sessions.
        await tell(deps.lateError(contact, d.jid, d.originStanzaId, words));
        await tell(deps.notify(contact, d.jid.split("/")[0]!, words));
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

  return async function relayPass(): Promise<boolean> {
    const batch = await deps.claim(config.id, CLAIM, config.leaseSeconds ?? 300);
    // Mails to different correspondents leave in parallel, as many as the relay pool has connections;
    // mails to the same correspondent one after the other, in the order they were written.
    const byRecipient = new Map<string, Claimed[]>();
    for (const d of batch) byRecipient.set(d.recipient.toLowerCase(), [...(byRecipient.get(d.recipient.toLowerCase()) ?? []), d]);
    const groups = [...byRecipient.values()];
    await Promise.all(Array.from({ length: Math.min(PARALLEL, groups.length) }, async () => {
      for (let group = groups.shift(); group; group = groups.shift()) for (const d of group) await relayOne(d);
    }));
    return batch.length > 0;
  };
}
