// Chat → mail: who may send what (docs/design.md §Invariants, 5), threading, the sending limits and words
// for the user. No SQL here: the stores come in as plain functions. The relay side is queue/relay.ts.
//
// A sender's messages are taken in runs. While one run is being queued, the messages that arrive
// form the next; a run costs one mailbox lookup, one thread lookup for all its contacts and one queue
// transaction, instead of each per message. RFC 6120 §10.1: the runs, and the messages in a run, are queued
// in the order acceptChat was called, so two quick messages become two mails in the order written and a
// limit refuses the later ones.
import { domainOf, jidToAddress } from "../core/addresses.ts";
import { mailText, replySubject, sharedFileUrl, subjectFromText, type IncomingChat } from "../core/outbound.ts";
import { isCatchAll } from "../core/recipients.ts";
import { bounceAddress } from "../core/verp.ts";
import { sanitizeLine } from "../core/sanitize.ts";
import { senderName } from "../core/display-name.ts";
import { replyRecipients } from "../core/reply-all.ts";
import type { MailAddress, QueuedMail, SendLimit, ThreadParent } from "../core/types.ts";
import type { OutboundMail } from "../mail/compose.ts";
import type { Logger } from "../log.ts";
import { createAdmission } from "./admission.ts";
import { createOrderedBatches } from "./batches.ts";
import type { HeldFile, Reserve } from "./fetch-file.ts";
import { workInOrder, type Prepared } from "./in-order.ts";

type Refusal = { kind: "refused"; type: "cancel" | "modify" | "auth" | "wait"; condition: string; text: string; notice?: string };
export type Verdict = { kind: "queued" } | { kind: "ignored" } | Refusal;

export interface OutboundDeps {
  /** `room`: a conference room's address, which its members write from (Reply-To: the room) */
  ownedBy(jid: string): Promise<{ address: string; displayName: string | null; room?: boolean }[]>;
  byStanzaId(id: string, mailboxes: string[]): Promise<ThreadParent | undefined>;
  /** The latest inbound mail from each correspondent to any of `mailboxes`, keyed by lower-cased correspondent. */
  latestFrom(correspondents: string[], mailboxes: string[]): Promise<Map<string, ThreadParent>>;
  compose(mail: OutboundMail): Promise<Buffer>;
  /**
   * Fetch a file the user shared (XEP-0066/0363), its memory asked of `reserve` once its size is known;
   * rejects with words for the user. Absent: links stay text.
   */
  fetchFile?(url: string, reserve?: Reserve): Promise<HeldFile>;
  /** the memory budget for fetched files and the mails composed from them (queue/byte-budget.ts) */
  reserve?: Reserve;
  /** the counts the sending limit is held to (store/outbound.ts), keyed by lower-cased mailbox */
  sentCounts(mailboxes: string[]): Promise<Map<string, { minute: number; day: number }>>;
  /**
   * Queue these, in this order, refusing those that would put a mailbox over a limit: the counts and the
   * inserts are one atomic step, and the answers are those of queueing them one after the other.
   */
  queue(inputs: QueuedMail[], limit: SendLimit): Promise<({ queued: number } | { over: "minute" | "day" })[]>;
  newToken(): string;
  log?: Pick<Logger, "error">;
  /** an unguessable secret (store/messages.ts newSecret): the mail's bounce address */
  newSecret(): string;
  now(): Date;
}

const refuse = (type: Refusal["type"], condition: string, text: string): Verdict =>
  ({ kind: "refused", type, condition, text });

/** The chat notice about a limit is said at most this often per mailbox; the stanza error every time. */
const LIMIT_NOTICE_MS = 10 * 60_000;
/** At most this many of one sender's messages share a run (and a transaction). */
const RUN = 64;

type Owned = Awaited<ReturnType<OutboundDeps["ownedBy"]>>;
type File = { filename: string; contentType: string; content: Buffer };
/** A message that may become a mail; `shared` is the file it will fetch, once it has a place under the limit. */
interface Draft { chat: IncomingChat; contact: MailAddress; shared: string | null; file: File | null }

export function createOutbound(config: { componentDomain: string; sendLimit: SendLimit; fetchesPerUser?: number }, deps: OutboundDeps) {
  const noticed = new Map<string, number>();
  const senderOf = (chat: IncomingChat) => (chat.from.split("/")[0] ?? "").toLowerCase();

  /** The checks of one message that need no thread: a verdict, or what to mail. */
  async function draft(chat: IncomingChat, owned: () => Promise<Owned>): Promise<Verdict | Draft> {
    if (chat.encrypted) {
      // Its body is a fallback ("I sent you an OMEMO message…"): mailing it would mislead both sides.
      return refuse("modify", "not-acceptable", `This contact is an e-mail address: ${chat.encrypted} messages cannot be mailed. Send it without end-to-end encryption if it may travel as e-mail.`);
    }
    const contact = jidToAddress(chat.to, config.componentDomain);
    if (!contact) return refuse("modify", "jid-malformed", "This contact does not stand for a valid e-mail address.");
    if ((await owned()).length === 0) {
      return refuse("auth", "forbidden", "Only accounts with a mailbox on this gateway can send e-mail; nothing was sent.");
    }
    const shared = sharedFileUrl(chat);
    if (shared && /^aesgcm:/i.test(shared)) {
      // XEP-0454: the key is in the fragment and the file is ciphertext; mailing either would mislead.
      return refuse("modify", "not-acceptable", "This file is encrypted end to end (OMEMO): it cannot be mailed. Send it without encryption if it may travel as e-mail.");
    }
    const fetches = shared && deps.fetchFile && (chat.oobUrl || (chat.body ?? "").trim() === shared) ? shared : null;
    if (!fetches && !mailText(chat)) return { kind: "ignored" };
    return { chat, contact, shared: fetches, file: null };
  }

  /** Fetch the shared file (its place under the limit is taken) and compose; the memory stays held until queued. */
  async function prepare(d: Draft, owned: Owned, parent: ThreadParent | undefined, reserve: Reserve | undefined): Promise<Prepared<QueuedMail, Verdict>> {
    const from = fromAddress(mailboxFor(owned, parent), parent);
    if (from === null) {
      return { verdict: refuse("auth", "forbidden", "Your mailbox is a catch-all (*@domain): it answers the mail sent to it, but a new mail needs an address of your own; nothing was sent.") };
    }
    let held: HeldFile | null = null;
    if (d.shared) {
      try {
        held = await deps.fetchFile!(d.shared, reserve);
      } catch (err) {
        // An explicit share that cannot be fetched is refused; a bare link from elsewhere stays a link.
        if (d.chat.oobUrl) return { verdict: refuse("modify", "not-acceptable", (err as Error).message) };
      }
    }
    try {
      const rawText = mailText(d.chat);
      const text = held && rawText.trim() === d.shared ? "" : rawText;
      if (!text && !held) return { verdict: { kind: "ignored" } };
      const mail = await compose({ ...d, file: held }, text, owned, parent, from);
      // From here the file's bytes live on in the mail only, held until queued (docs/design.md §Budgets):
      // the mail, and while it is queued its SQL parameter, which node-postgres writes as bytea in hex, twice
      // its size, once as a string and once more in the message it sends.
      held?.hold?.resize(mail.raw.length * 5);
      return { mail, hold: held?.hold ?? null };
    } catch (err) {
      held?.hold?.release();
      throw err;
    }
  }

  // The mailbox the conversation was addressed to, else the oldest that is not a catch-all (it has no address of its own).
  const mailboxFor = (owned: Owned, parent: ThreadParent | undefined) =>
    owned.find((m) => parent && m.address.toLowerCase() === parent.mailbox.toLowerCase())
      ?? owned.find((m) => !isCatchAll(m.address)) ?? owned[0]!;
  /** docs/design.md §Addresses: a reply leaves from the address the mail was sent to (a subaddress, or the
   * address a catch-all took), as recorded at RCPT; anything else from the mailbox's own. Null: a catch-all
   * with nothing to answer, which has no address to write from. */
  const fromAddress = (mailbox: Owned[number], parent: ThreadParent | undefined): string | null => {
    const answered = parent?.addressedTo && parent.mailbox.toLowerCase() === mailbox.address.toLowerCase() ? parent.addressedTo : null;
    const from = answered ?? mailbox.address;
    return isCatchAll(from) ? null : from;
  };

  /** The mail for one message, composed once: every retry sends the same bytes and Message-ID. */
  async function compose({ chat, contact, file }: Draft, text: string, owned: Owned, parent: ThreadParent | undefined, from: string): Promise<QueuedMail> {
    // The contact JID is case-folded (core/addresses.ts): write to the address as the correspondent spelled it.
    const to = parent?.correspondent && parent.correspondent.toLowerCase() === contact.toLowerCase()
      ? parent.correspondent as MailAddress : contact;
    // The mailbox the conversation was addressed to, else the oldest.
    const mailbox = mailboxFor(owned, parent);
    const subject = chat.subject?.trim() ? sanitizeLine(chat.subject)
      : parent ? replySubject(parent.subject) : subjectFromText(text || file!.filename);
    const token = deps.newToken();
    const messageId = `${token}@${domainOf(mailbox.address as MailAddress)}`;
    // RFC 5322 §3.6.3: a reply copies the others the answered mail was addressed to (core/reply-all.ts).
    const recipients = replyRecipients({ to, own: owned.map((m) => m.address), parent: parent ? { from: parent.correspondent,
      fromName: parent.correspondentName ?? null, to: parent.to ?? "", cc: parent.cc ?? "" } : null });
    const raw = await deps.compose({
      from: { address: from, name: senderName(chat.nick, mailbox.displayName) },
      to, toName: recipients.to.name, cc: recipients.cc, subject, text, messageId,
      inReplyTo: parent?.messageId ?? null,
      references: parent ? [...parent.references, ...(parent.messageId ? [parent.messageId] : [])] : [],
      jabberId: senderOf(chat),
      date: deps.now(),
      ...(mailbox.room ? { replyTo: mailbox.address } : {}),
      ...(file ? { attachments: [{ filename: file.filename, contentType: file.contentType, content: file.content }] } : {}),
    });
    // VERP: a report about this mail comes back to an address that names it by a secret of its own,
    // unrelated to the Message-ID that replies and archives repeat (docs/design.md §Who speaks for a delivery).
    // Each copy is a delivery of its own with its own secret, so a report names the one recipient it is about.
    const bounceSecret = deps.newSecret();
    const copies = recipients.cc.map((c) => {
      const secret = deps.newSecret();
      return { to: c.address, bounceSecret: secret, mailFrom: bounceAddress(secret, mailbox.address as MailAddress) };
    });
    return { token, mailbox: mailbox.address, to, subject, body: text, messageId, raw, bounceSecret,
      mailFrom: bounceAddress(bounceSecret, mailbox.address as MailAddress), ...(copies.length ? { copies } : {}),
      jid: chat.from, originStanzaId: chat.id, receiptRequested: chat.receiptRequested };
  }

  function overLimit(mailbox: string, over: "minute" | "day"): Verdict {
    const why = over === "minute"
      ? `Not sent: ${mailbox} may send ${config.sendLimit.perMinute} mails a minute. Wait a minute and send it again.`
      : `Not sent: ${mailbox} may send ${config.sendLimit.perDay} mails a day. Send it again tomorrow.`;
    // RFC 6120 §8.3.3.12 policy-violation; type wait: the same message may go through later.
    const verdict = { kind: "refused", type: "wait", condition: "policy-violation", text: why } as const;
    const key = mailbox.toLowerCase();
    const last = noticed.get(key);
    const now = deps.now().getTime();
    if (last === undefined || now - last > LIMIT_NOTICE_MS) {
      noticed.set(key, now);
      if (noticed.size > 10_000) noticed.clear(); // bounded memory; at worst one extra notice
      return { ...verdict, notice: why };
    }
    return verdict;
  }

  /** One sender's run of messages, answered in the same order. */
  async function acceptRun(sender: string, run: IncomingChat[]): Promise<Verdict[]> {
    let lookup: Promise<Owned> | null = null;
    const owned = () => (lookup ??= deps.ownedBy(sender));
    const drafts = await Promise.all(run.map((chat) => draft(chat, owned)));
    const mailable = drafts.filter((d): d is Draft => "contact" in d);
    if (mailable.length === 0) return drafts as Verdict[];
    const mine = await owned();
    const addresses = mine.map((m) => m.address);
    const quoted = await Promise.all(mailable.map((d) => !d.chat.fresh && d.chat.replyTo
      ? deps.byStanzaId(d.chat.replyTo, addresses) : undefined));
    const latest = await deps.latestFrom(mailable.filter((d, i) => !d.chat.fresh && !quoted[i]).map((d) => d.contact), addresses);
    const parents = mailable.map((d, i) => d.chat.fresh ? undefined : quoted[i] ?? latest.get(d.contact.toLowerCase()));
    const boxes = parents.map((p) => mailboxFor(mine, p).address);
    // The limit is checked before any fetch or composing starts (queue/admission.ts).
    const admit = createAdmission(config.sendLimit, config.sendLimit.perMinute > 0 || config.sendLimit.perDay > 0
      ? await deps.sentCounts(boxes) : new Map());
    const verdicts = await workInOrder<QueuedMail, Verdict>(mailable.length, {
      window: Math.max(1, config.fetchesPerUser ?? 2),
      admit: (i) => admit(boxes[i]!),
      refuse: (i, over) => overLimit(boxes[i]!, over),
      fetches: (i) => mailable[i]!.shared !== null,
      prepare: (i, reserve) => prepare(mailable[i]!, mine, parents[i], reserve),
      queue: async (mails) => (await deps.queue(mails, config.sendLimit)).map((result, k): Verdict =>
        "queued" in result ? { kind: "queued" } : overLimit(mails[k]!.mailbox, result.over)),
      failed: (err) => {
        deps.log?.error({ err: (err as Error)?.message }, "outgoing message not queued");
        return { kind: "refused", type: "wait", condition: "internal-server-error", text: "The gateway could not queue your mail; please send it again later." };
      },
      ...(deps.reserve ? { memory: deps.reserve } : {}),
    });
    let next = 0;
    return drafts.map((d) => ("contact" in d ? verdicts[next++]! : d));
  }

  const inRuns = createOrderedBatches<IncomingChat, Verdict>({ max: RUN }, acceptRun);
  /** Resolves once the message is queued (committed) or refused; calls are queued in call order per sender. */
  return function acceptChat(chat: IncomingChat): Promise<Verdict> {
    return inRuns(senderOf(chat), chat);
  };
}
