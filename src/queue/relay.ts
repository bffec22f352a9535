// The relay loop: queued outgoing mail to the smarthost, with retry and words for the user.
// No SQL here: the stores come in as plain functions.
import { addressToJid } from "../core/addresses.ts";
import type { MailAddress } from "../core/types.ts";
import type { Logger } from "../log.ts";
import type { ClaimedOutbound } from "../store/outbound.ts";
import { crashPoint } from "../ops/crash.ts";
import { holdLease, noteLost, type Hold } from "./lease.ts";
import { retryDelaySeconds } from "./retry.ts";

export interface RelayLoopDeps {
  log: Logger;
  /** Lease due outgoing deliveries, oldest first, each with the bytes it sends (one query). */
  claim(worker: string, limit: number, leaseSeconds: number): Promise<ClaimedOutbound[]>;
  send(envelope: { from: string; to: string }, raw: Buffer): Promise<string>;
  /** The guarded transitions (store/delivery-states.ts): each changes only rows still held under `lease`. */
  renew(lease: string, ids: number[], seconds: number): Promise<number[]>;
  markDelivered(lease: string, ids: number[]): Promise<number>;
  retryLater(lease: string, id: number, seconds: number, why: string, notified: boolean): Promise<number>;
  fail(lease: string, id: number, why: string): Promise<number>;
  notify(from: string, to: string, text: string): Promise<void>;
  lateError(from: string, to: string, id: string | null, text: string): Promise<void>;
  receipt(from: string, to: string, id: string): Promise<void>;
}

export interface RelayLoopConfig {
  id: string; componentDomain: string; maxAgeSeconds: number; schedule?: readonly number[];
  /** the claim's lease, renewed every third of it while the pass runs; a crash frees the mails after it */
  leaseSeconds: number;
}

/**
 * The relay's pooled connections (smtp/sender.ts maxConnections) and how many mails a pass claims: few
 * enough that a pass of mails each waiting out the 60 s socket timeout (20 over 4 lanes: 300 s) stays
 * reasonable; the lease is renewed meanwhile (queue/lease.ts), so no other instance takes over a mail being sent.
 */
const PARALLEL = 4;
const CLAIM = 20;
/** How long a sent mail may wait for its mark, so that the marks of several share one UPDATE. */
const MARK_LINGER_MS = 20;

/** One pass over the due outgoing mail; resolves true when it found some (more may be waiting). */
export function createRelayPass(config: RelayLoopConfig, deps: RelayLoopDeps) {
  const tell = (what: Promise<void>) => what.catch((err: Error) => deps.log.warn({ err: err.message }, "could not tell the user"));
  // Mails the relay took are marked in groups, at most MARK_LINGER_MS after the relay's answer and at the
  // end of each pass, while the lanes go on sending. A crash before the mark sends the mail again with the
  // same bytes and Message-ID (at least once, invariant 4), as it did when each was marked alone.
  let unmarked: { id: number; lease: string; resolve(): void; reject(err: unknown): void }[] = [];
  let timer: NodeJS.Timeout | null = null;
  const flushMarks = async (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const group = unmarked;
    unmarked = [];
    // One UPDATE per lease (a pass has one; a mark lingering past its pass would have another).
    for (const lease of new Set(group.map((u) => u.lease))) {
      const mine = group.filter((u) => u.lease === lease);
      try {
        noteLost(deps.log, "mark relayed mails delivered", mine.length, await deps.markDelivered(lease, mine.map((u) => u.id)));
        for (const u of mine) u.resolve();
      } catch (err) {
        for (const u of mine) u.reject(err);
      }
    }
  };
  const markDelivered = (id: number, lease: string) => new Promise<void>((resolve, reject) => {
    unmarked.push({ id, lease, resolve, reject });
    timer ??= setTimeout(() => void flushMarks(), MARK_LINGER_MS);
  });

  /** Sends one mail; for a mail the relay took, `marked` settles once it is marked delivered (and its receipt sent). */
  async function relayOne(d: ClaimedOutbound, hold: Hold): Promise<{ marked: Promise<void> } | undefined> {
    // Lost at a renewal (another worker claimed it after our lease ran out): not ours to send.
    if (!hold.has(d.id)) return undefined;
    const contact = addressToJid(d.recipient as MailAddress, config.componentDomain);
    if (d.raw === null || d.mailFrom === null) {
      if (hold.settle([d.id]).length) noteLost(deps.log, "fail", 1, await deps.fail(d.lease, d.id, "message row is missing"), { delivery: d.id });
      return undefined;
    }
    try {
      const reply = await deps.send({ from: d.mailFrom, to: d.recipient }, d.raw);
      crashPoint("after-relay-send");
      deps.log.info({ delivery: d.id, to: d.recipient, reply }, "mail sent through the relay");
      // XEP-0184 §5.1: "received" once the mail has left our hands, i.e. the relay took it (and it is marked).
      if (hold.settle([d.id]).length === 0) return undefined; // lost while it was being sent: the new holder marks it
      const marked = markDelivered(d.id, d.lease).then(() => {
        if (d.receiptRequested && d.originStanzaId) return tell(deps.receipt(contact, d.jid, d.originStanzaId));
      }, (err: Error) => {
        // Not marked (database?): the lease runs out and the mail is sent again, same bytes, no receipt yet.
        deps.log.error({ err: err.message, delivery: d.id }, "could not mark a relayed mail delivered");
      });
      return { marked };
    } catch (err) {
      const failure = err as Error & { permanent?: boolean; text?: string };
      const text = failure.text ?? failure.message;
      const expired = Date.now() - d.createdAt.getTime() > config.maxAgeSeconds * 1000;
      if (failure.permanent || expired) {
        const why = failure.permanent ? `the relay refused it: ${text}` : `gave up after ${Math.round(config.maxAgeSeconds / 3600)} h: ${text}`;
        // Only the lease holder's outcome counts, and only it tells the user.
        if (hold.settle([d.id]).length === 0) return undefined;
        const changed = await deps.fail(d.lease, d.id, why);
        noteLost(deps.log, "fail", 1, changed, { delivery: d.id });
        if (changed === 0) return undefined;
        deps.log.warn({ delivery: d.id, to: d.recipient, reason: why }, "outgoing mail failed");
        const words = `Your mail to ${d.recipient} was not sent: ${why}`;
        // The error marks the message in the client that wrote it (RFC 6120 §8.3; servers drop errors to
        // absent resources); the same words as a chat message reach the user's other and later sessions.
        await tell(deps.lateError(contact, d.jid, d.originStanzaId, words));
        await tell(deps.notify(contact, d.jid.split("/")[0]!, words));
      } else {
        const delay = retryDelaySeconds(d.attempts, config.schedule);
        if (hold.settle([d.id]).length === 0) return undefined;
        const changed = await deps.retryLater(d.lease, d.id, delay, text, true);
        noteLost(deps.log, "retry later", 1, changed, { delivery: d.id });
        if (changed === 0) return undefined;
        deps.log.info({ delivery: d.id, to: d.recipient, retryIn: delay, reason: text }, "outgoing mail delayed");
        if (!d.delayNotified) {
          await tell(deps.notify(contact, d.jid, `Your mail to ${d.recipient} is delayed (${text}); the gateway keeps trying.`));
        }
      }
    }
  }

  async function relayAll(batch: ClaimedOutbound[], hold: Hold): Promise<void> {
    // Mails to different correspondents leave in parallel, as many as the relay pool has connections;
    // mails to the same correspondent one after the other, in the order they were written.
    const byRecipient = new Map<string, ClaimedOutbound[]>();
    for (const d of batch) {
      const key = d.recipient.toLowerCase();
      byRecipient.set(key, [...(byRecipient.get(key) ?? []), d]);
    }
    const groups = [...byRecipient.values()];
    const marked: Promise<void>[] = [];
    await Promise.all(Array.from({ length: Math.min(PARALLEL, groups.length) }, async () => {
      for (let group = groups.shift(); group; group = groups.shift()) {
        for (const d of group) {
          const sent = await relayOne(d, hold);
          if (sent) marked.push(sent.marked);
        }
      }
    }));
    // The pass ends once every mail it sent is marked: the next claim cannot see them as due again.
    await flushMarks();
    await Promise.all(marked);
  }

  return async function relayPass(): Promise<boolean> {
    const batch = await deps.claim(config.id, CLAIM, config.leaseSeconds);
    if (batch.length === 0) return false;
    const hold = holdLease({ leaseSeconds: config.leaseSeconds, name: "relay" }, deps, batch[0]!.lease, batch.map((d) => d.id));
    try {
      await relayAll(batch, hold);
    } finally {
      await hold.stop();
    }
    return true;
  };
}
