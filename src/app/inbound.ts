// The composition root (docs/design.md §Rooms), its inbound part: stored mail → chat messages (mailboxes,
// rooms, delivery reports) and the worker that delivers them over one term's link.
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { BareJid, ChatMessage } from "../core/types.ts";
import { createAttachmentForwarder } from "../queue/attachments.ts";
import { createInboundPreparer } from "../queue/inbound.ts";
import { createReportPreparer, type ReportStanzas } from "../queue/reports.ts";
import { createRoomPreparer } from "../queue/rooms.ts";
import type { createStructureReader } from "../queue/structures.ts";
import { createWorker } from "../queue/worker.ts";
import type { ClaimedWithMessage, DeliveryStore } from "../store/deliveries.ts";
import type { MessageStore } from "../store/messages.ts";
import type { Notice } from "../store/db.ts";
import { countOutcomes, type Metrics } from "../ops/metrics.ts";
import type { RosterService } from "../services/roster.ts";
import { serverDomain } from "../xmpp/component.ts";
import type { XmppLink } from "../xmpp/link-api.ts";
import { bind, wakeOn } from "./bind.ts";

export interface InboundDeps {
  log: Logger;
  messages: MessageStore;
  deliveries: DeliveryStore;
  metrics: Metrics;
  structureOf: ReturnType<typeof createStructureReader>;
  roster: RosterService;
  linked(): XmppLink;
  listen(onNotice: (notice: Notice) => void): Promise<() => Promise<void>>;
}

/** The inbound worker for one term's link (docs/design.md §Delivery state machine). */
export function createInboundWiring(config: Config & { workerId: string; maxAgeSeconds: number }, deps: InboundDeps) {
  const prepareMail = createInboundPreparer({ componentDomain: config.xmpp.domain, chatMaxBytes: config.chatMaxBytes, publicUrl: config.web.publicUrl },
    { now: () => new Date(),
      ...(config.attachments.uploadService || config.web.publicUrl ? {
        attachments: createAttachmentForwarder({ publicUrl: config.web.publicUrl }, {
          log: deps.log, partsOf: deps.structureOf, ...bind(deps.messages, "partBytes", "uploads", "saveUploads"),
          ...(config.attachments.uploadService ? { upload: (file) => deps.linked().upload(config.attachments.uploadService!, file) } : {}),
        }) } : {}) });
  const prepareRoomMail = createRoomPreparer({ componentDomain: config.xmpp.domain }, { enter: (...a) => deps.linked().enterRoom(...a) });
  const prepareReports = createReportPreparer({ componentDomain: config.xmpp.domain });
  const inboundOutcomes = countOutcomes(deps.deliveries, deps.metrics, "inbound");
  const createInboundWorker = (link: XmppLink) => createWorker<ClaimedWithMessage, ChatMessage | ReportStanzas>({ id: config.workerId, batchSize: 100,
    leaseSeconds: config.leaseSeconds, pollMs: 2000, maxAgeSeconds: config.maxAgeSeconds }, {
    log: deps.log, ...bind(deps.deliveries, "claim", "release", "renew"), ...bind(inboundOutcomes, "markDelivered", "fail", "retryLater"),
    // Order within the batch does not matter across kinds: each kind keeps its own order.
    prepare: async (batch) => [...await prepareMail(batch.filter((d) => d.kind === "mail")),
      ...await prepareRoomMail(await prepareMail(batch.filter((d) => d.kind === "room"))),
      ...prepareReports(batch.filter((d) => d.kind === "report"))],
    send: async (m) => {
      if (!("kind" in m)) {
        // A new correspondent's roster item comes first, within a bound (services/deps.roster.ts first()).
        if (!m.room) await deps.roster.first(m.to.split("/")[0] as BareJid, m.from, m.nick);
        await link.sendChat(m);
        // After delivery, best effort, never waited for (services/deps.roster.ts); a room has no deps.roster.
        if (!m.room) deps.roster.noteDelivered(m.to.split("/")[0] as BareJid, m.from, m.nick);
        return;
      }
      if (m.error) await link.sendLateError(m.error.from, m.error.to, m.error.id, "recipient-unavailable", m.error.text);
      await link.sendChat(m.notice);
    },
    // One ping to the server we are connected to proves the whole batch (docs/design.md §Delivery state machine).
    flush: () => link.flush(serverDomain(config.xmpp.domain)),
    session: () => link.session(),
    isOnline: () => link.isOnline(),
    whenOnline: (signal) => link.whenOnline(signal),
    listen: (wake) => deps.listen(wakeOn("inbound", wake)),
  });
  return createInboundWorker;
}
