// Prometheus metrics (prom-client) on GET /metrics: what an admin needs to see the gateway work.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface MetricsSources {
  /** deliveries by status and the age of the oldest waiting one, read at scrape time */
  queue(): Promise<{ byStatus: Record<string, number>; oldestWaitingSeconds: number | null }>;
  /** The XMPP link's state (docs/design.md §XMPP link); null on a standby, which has none. */
  xmppState(): string | null;
}

/** The states of the XMPP link, each a series of passerelle_xmpp_link_state. */
const LINK_STATES = ["connecting", "online", "closing", "offline", "stopped"];
/** The instance's roles (docs/design.md §Several instances), each a series of passerelle_instance_role. */
const ROLES = ["link", "standby", "stopped"];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "passerelle_process_" });
  const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  const metrics = {
    registry,
    accepted: counter("passerelle_smtp_accepted_total", "Mails answered 250 (committed)"),
    refused: counter("passerelle_smtp_refused_total", "SMTP commands refused, by reason", ["reason"]),
    delivered: counter("passerelle_deliveries_delivered_total", "Deliveries completed, by direction", ["direction"]),
    retried: counter("passerelle_deliveries_retried_total", "Deliveries put back for a later attempt, by direction", ["direction"]),
    failed: counter("passerelle_deliveries_failed_total", "Deliveries failed for good, by direction", ["direction"]),
    stanzas: counter("passerelle_xmpp_stanzas_total", "Stanzas from XMPP parties, by kind and outcome: accepted (queued) and later handled, or the budget that refused it", ["kind", "outcome"]),
    linkOnline: counter("passerelle_xmpp_link_online_total", "Times the XMPP component link came online"),
    pagesBuilt: counter("passerelle_web_pages_built_total", "Web pages built (each once per mail), from the mail or as plain text past the page pool's limits", ["outcome"]),
    parseSeconds: new Histogram({ name: "passerelle_parse_seconds", help: "Time to parse an accepted mail",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    /** 1 for the instance's current role: `link` (it holds the XMPP link) or `standby`. */
    role: {
      gauge: new Gauge({ name: "passerelle_instance_role", help: "1 for this instance's role: link (it holds the XMPP link) or standby", labelNames: ["role"], registers: [registry] }),
      set(current: string): void {
        for (const role of ROLES) this.gauge.set({ role }, role === current ? 1 : 0);
      },
    },
    /** Gauges read from the database and the link when Prometheus scrapes. */
    watch(sources: MetricsSources): void {
      const oldest = new Gauge({ name: "passerelle_queue_oldest_waiting_seconds", help: "Age of the oldest waiting delivery", registers: [registry] });
      // One query a scrape fills both queue gauges.
      new Gauge({ name: "passerelle_queue_deliveries", help: "Deliveries by status", labelNames: ["status"],
        registers: [registry], async collect() {
          const q = await sources.queue().catch(() => null);
          if (!q) return;
          for (const [status, n] of Object.entries(q.byStatus)) this.set({ status }, n);
          oldest.set(q.oldestWaitingSeconds ?? 0);
        } });
      new Gauge({ name: "passerelle_xmpp_link_up", help: "1 while the XMPP component link is online", registers: [registry],
        collect() { this.set(sources.xmppState() === "online" ? 1 : 0); } });
      new Gauge({ name: "passerelle_xmpp_link_state", help: "1 for the XMPP component link's current state", labelNames: ["state"],
        registers: [registry], collect() {
          const current = sources.xmppState();
          for (const state of LINK_STATES) this.set({ state }, state === current ? 1 : 0);
        } });
    },
  };
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

interface OutcomeStore {
  markDelivered(lease: string, ids: number[]): Promise<number>;
  fail(lease: string, id: number, why: string): Promise<number>;
  retryLater(lease: string, id: number, seconds: number, why: string, notified: boolean): Promise<number>;
}

/** The delivery store's guarded outcomes, counted per direction (only the rows they changed). */
export function countOutcomes(store: OutcomeStore, metrics: Metrics, direction: "inbound" | "outbound"): OutcomeStore {
  return {
    async markDelivered(lease, ids) {
      const n = await store.markDelivered(lease, ids);
      metrics.delivered.inc({ direction }, n);
      return n;
    },
    async fail(lease, id, why) {
      const n = await store.fail(lease, id, why);
      metrics.failed.inc({ direction }, n);
      return n;
    },
    async retryLater(lease, id, seconds, why, notified) {
      const n = await store.retryLater(lease, id, seconds, why, notified);
      metrics.retried.inc({ direction }, n);
      return n;
    },
  };
}

/** Time an async step into a histogram. */
export async function timed<T>(histogram: Histogram, work: () => Promise<T>): Promise<T> {
  const end = histogram.startTimer();
  try {
    return await work();
  } finally {
    end();
  }
}

/** The SMTP intake, counting 250s and DATA-stage refusals (by reply code). */
export function countAccepted<A extends unknown[], R>(metrics: Metrics, accept: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      const result = await accept(...args);
      metrics.accepted.inc();
      return result;
    } catch (err) {
      metrics.refused.inc({ reason: `data ${(err as { responseCode?: number }).responseCode ?? 451}` });
      throw err;
    }
  };
}
