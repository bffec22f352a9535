// The composition root (docs/design.md §Rooms), its outbound part: a user's chat → a queued mail (signed,
// threaded, within the sending limit), and the relay loop that hands queued mail to SMTP_RELAY.
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { domainOf } from "../core/addresses.ts";
import type { MailAddress } from "../core/types.ts";
import { composeMail } from "../mail/compose.ts";
import { createSigner } from "../mail/dkim.ts";
import { countOutcomes, type Metrics } from "../ops/metrics.ts";
import { createByteBudget } from "../queue/byte-budget.ts";
import { createFileFetcher } from "../queue/fetch-file.ts";
import { createLoop } from "../queue/loop.ts";
import { createOutbound } from "../queue/outbound.ts";
import { createRelayPass } from "../queue/relay.ts";
import type { createRelay } from "../smtp/sender.ts";
import type { Notice } from "../store/db.ts";
import type { DeliveryStore } from "../store/deliveries.ts";
import type { MailboxStore } from "../store/mailboxes.ts";
import type { OutboundStore } from "../store/outbound.ts";
import type { RoomStore } from "../store/rooms.ts";
import type { ThreadStore } from "../store/threads.ts";
import type { XmppLink } from "../xmpp/link-api.ts";
import { bind, wakeOn } from "./bind.ts";

export interface OutboundDeps {
  log: Logger;
  mailboxes: MailboxStore;
  rooms: RoomStore;
  threads: ThreadStore;
  outgoing: OutboundStore;
  deliveries: DeliveryStore;
  metrics: Metrics;
  /** SMTP_RELAY's client; null: outgoing mail is refused */
  relay: ReturnType<typeof createRelay> | null;
  linked(): XmppLink;
  listen(onNotice: (notice: Notice) => void): Promise<() => Promise<void>>;
  newToken(): string;
  newSecret(): string;
}

export function createOutboundWiring(config: Config & { workerId: string }, deps: OutboundDeps) {
  const { newToken, newSecret } = deps;
  const sign = createSigner(config.dkim);
  const fetchMemory = createByteBudget({ bytes: config.attachments.fetchMemoryBytes });
  const queueChat = createOutbound({ componentDomain: config.xmpp.domain, sendLimit: config.sendLimit, fetchesPerUser: config.attachments.fetchPerUser }, {
    // A room speaks from its own address (docs/design.md §Rooms with an address); a person from their mailboxes.
    ownedBy: async (jid) => {
      const owned = await deps.mailboxes.ownedBy(jid);
      return owned.length ? owned : (await deps.rooms.ofJid(jid)).map((r) => ({ address: r.address, displayName: null, room: true }));
    }, ...bind(deps.threads, "byStanzaId", "latestFrom"), ...bind(deps.outgoing, "queue", "sentCounts"),
    compose: async (mail) => sign(await composeMail(mail), domainOf(mail.from.address as MailAddress)),
    fetchFile: createFileFetcher({ hosts: config.attachments.fetchHosts, maxBytes: config.attachments.maxBytes }),
    reserve: (bytes) => fetchMemory.acquire(bytes), log: deps.log,
    newToken, newSecret, now: () => new Date(),
  });

  const acceptChat: typeof queueChat = async (chat) => deps.relay ? queueChat(chat)
    : { kind: "refused", type: "cancel", condition: "service-unavailable", text: "This gateway has no relay for outgoing mail (SMTP_RELAY); nothing was sent." };
  const relay = deps.relay;
  const relayLoop = relay && createLoop({ pollMs: 2000, name: "relay" }, {
    log: deps.log, listen: (wake) => deps.listen(wakeOn("outbound", wake)),
    pass: createRelayPass({ id: config.workerId, componentDomain: config.xmpp.domain,
      maxAgeSeconds: config.relayRetry.maxAgeSeconds, schedule: config.relayRetry.schedule,
      leaseSeconds: config.leaseSeconds }, {
      log: deps.log, ...bind(countOutcomes(deps.deliveries, deps.metrics, "outbound"), "markDelivered", "retryLater", "fail"), ...bind(deps.deliveries, "renew"),
      claim: (w, n, lease) => deps.outgoing.claim(w, n, lease),
      send: (envelope, raw) => relay.send(envelope, raw),
      // On a standby these throw: the notice is logged, not sent (docs/design.md §Several instances).
      notify: async (from, to, text) => deps.linked().notify(from, to, text),
      lateError: async (from, to, id, text) => deps.linked().sendLateError(from, to, id, "undefined-condition", text),
      receipt: async (from, to, id) => deps.linked().sendReceipt(from, to, id),
    }),
  });
  return { acceptChat, relayLoop };
}
