// Scenario 7: backlog and growth. `--backlog` mails (BENCH_BACKLOG, default 100,000) accepted while the
// XMPP server is away (the gateway up, its component link down), then the server back: the acceptance
// rate of the first and last tenth (flat: the queue's size does not slow SMTP), RCPT latency during the
// backlog, the drain rate against the live rate (the same gateway with the server up), and database
// bytes per mail before and after pruning (the pruner run with its clock RETENTION_DAYS ahead).
import { setTimeout as sleep } from "node:timers/promises";
import { SENDER, SOURCE_PAYLOAD, type BenchContext } from "./context.ts";
import { startCpuMeter } from "./cpu.ts";
import { runSmtpSource } from "./postfix.ts";
import { connectReceiver } from "./receiver.ts";
import type { Sample } from "./report.ts";
import { USER } from "./stack.ts";
import { percentile } from "./stats.ts";
import { createLogger } from "../src/log.ts";
import { createPrunePass } from "../src/queue/prune.ts";
import { openDatabase } from "../src/store/db.ts";
import { createRetentionStore } from "../src/store/retention.ts";
import { SmtpSession } from "../test/support/smtp.ts";
import { COMPONENT_DOMAIN } from "../test/support/stack.ts";
import { waitFor } from "../test/support/wait.ts";

const DAY = 86_400_000;

/** RCPT TO → reply times on one session, one probe every `everyMs`, until stopped. */
async function probeRcpt(port: number, to: string, everyMs = 100) {
  const { session } = await SmtpSession.open(port);
  await session.command("EHLO probe.example");
  const times: number[] = [];
  let stop = false;
  const running = (async () => {
    while (!stop) {
      await session.command(`MAIL FROM:<${SENDER}>`);
      const t0 = performance.now();
      const reply = await session.command(`RCPT TO:<${to}>`);
      if (reply.code !== 250) throw new Error(`RCPT during the backlog: ${reply.code} ${reply.text}`);
      times.push(performance.now() - t0);
      await session.command("RSET");
      await sleep(everyMs);
    }
  })();
  return { async stop() { stop = true; await running; session.close(); return times; } };
}

/** Bytes of every table of the database (with its indexes and TOAST), and the mails stored. */
async function footprint(ctx: BenchContext): Promise<{ bytes: number; mails: number }> {
  const [row] = await ctx.stack.db.query<{ bytes: string; mails: number }>(`SELECT
    (SELECT sum(pg_total_relation_size(relid)) FROM pg_stat_user_tables)::bigint AS bytes,
    (SELECT count(*)::int FROM messages) AS mails`);
  return { bytes: Number(row!.bytes), mails: row!.mails };
}

const pending = async (ctx: BenchContext) => (await ctx.stack.db.query<{ n: number }>(
  "SELECT count(*)::int AS n FROM deliveries WHERE status <> 'delivered'"))[0]!.n;

export async function backlog(ctx: BenchContext): Promise<Sample[]> {
  const { stack, options } = ctx;
  const total = options.backlog;
  const tenth = Math.max(1, Math.floor(total / 10));
  const load = { sessions: options.senders, payload: SOURCE_PAYLOAD, reuse: true, from: SENDER, to: stack.address };

  // The live rate: a tenth of the backlog end to end with the server up.
  const before = stack.receiver.count();
  let t0 = 0;
  const liveRun = await runSmtpSource({ ...load, messages: tenth, port: stack.gateway.smtpPort }, () => { t0 = performance.now(); });
  if (liveRun.code !== 0) throw new Error(`smtp-source → gateway failed: ${liveRun.stderr}`);
  const liveLast = await stack.receiver.waitForCount(before + tenth, Math.max(120_000, tenth * 20));
  const live = tenth / ((liveLast - t0) / 1000);
  ctx.log(`7 backlog: live ${live.toFixed(0)} mails/s end to end (${tenth} mails)`);

  // The server goes away: the gateway's link is down, it keeps accepting.
  await stack.receiver.stop();
  await stack.prosody.stop();
  await waitFor("the gateway's link down", async () => (await stack.gateway.health())?.body.xmpp !== "online", 30_000, 100);
  const probe = await probeRcpt(stack.gateway.smtpPort, stack.address);
  // The rate by tenth, and the CPU each mail cost the gateway and PostgreSQL (a figure that barely moves
  // when other work shares the machine: whether a growing queue makes acceptance dearer).
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 10; i++) {
    const meter = await startCpuMeter(stack);
    const run = await runSmtpSource({ ...load, messages: tenth, port: stack.gateway.smtpPort });
    if (run.code !== 0) throw new Error(`smtp-source → gateway (backlog) failed: ${run.stderr}`);
    const used = await meter.stop();
    rates.push(tenth / (run.ms / 1000));
    cpu.push((used.gateway + used.postgres) / tenth);
    ctx.log(`7 backlog: tenth ${i + 1}: ${rates[i]!.toFixed(0)} accepted/s, ${cpu[i]!.toFixed(2)} ms CPU a mail (gateway + PostgreSQL), ${await pending(ctx)} waiting`);
  }
  const rcpt = await probe.stop();
  const waiting = await pending(ctx);
  if (waiting < tenth * 10) throw new Error(`only ${waiting} deliveries waiting after the backlog`);
  const full = await footprint(ctx);

  // The server is back: the user logs in again (before the gateway's link is back), the queue drains
  // from the moment the link is online.
  const back = performance.now();
  await stack.prosody.start();
  stack.receiver = await connectReceiver(stack.prosody.c2sPort, stack.prosody.domain, USER, "secret", COMPONENT_DOMAIN);
  await waitFor("the gateway's link back", async () => (await stack.gateway.health())?.body.xmpp === "online", 120_000, 50);
  const start = performance.now();
  const reconnect = (start - back) / 1000;
  await waitFor("the backlog delivered", async () => (await pending(ctx)) === 0, Math.max(600_000, total * 20), 200);
  const drain = (tenth * 10) / ((performance.now() - start) / 1000);
  const delivered = await footprint(ctx);
  ctx.log(`7 backlog: drained ${tenth * 10} at ${drain.toFixed(0)} mails/s (live ${live.toFixed(0)}); `
    + `${(delivered.bytes / delivered.mails).toFixed(0)} database bytes a mail`);

  // Pruning as the gateway does it (its batch and pause defaults), with its clock RETENTION_DAYS + 1 ahead,
  // while RCPT is probed again.
  const db = await openDatabase({ databaseUrl: stack.db.url, dataDir: "/nonexistent", role: "serve", log: createLogger("silent") });
  const store = createRetentionStore(db.knex);
  // Each batch is one transaction: its time is the longest any row stays locked by the pruner.
  const batchMs: number[] = [];
  const timedBatch = async <T>(run: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try { return await run(); } finally { batchMs.push(performance.now() - t); }
  };
  const pruneProbe = await probeRcpt(stack.gateway.smtpPort, stack.address);
  const pruneStart = performance.now();
  const totals = await createPrunePass({ days: 30, threadDays: 365, batch: 500, pauseMs: 200 }, { log: createLogger("silent"),
    now: () => new Date(Date.now() + 31 * DAY), expire: (...a) => timedBatch(() => store.expire(...a)),
    forget: (...a) => timedBatch(() => store.forget(...a)) })();
  const pruneSeconds = (performance.now() - pruneStart) / 1000;
  const pruneRcpt = await pruneProbe.stop();
  await db.close();
  await stack.db.query("VACUUM");
  const pruned = await footprint(ctx);
  await stack.db.query("VACUUM FULL");
  const compact = await footprint(ctx);
  const perMail = (f: { bytes: number }) => f.bytes / delivered.mails;
  ctx.log(`7 backlog: pruned ${totals.cleared} mails in ${pruneSeconds.toFixed(1)} s (${totals.batches} batches); `
    + `${perMail(delivered).toFixed(0)} → ${perMail(pruned).toFixed(0)} bytes a mail (${perMail(compact).toFixed(0)} after VACUUM FULL)`);

  const scenario = `7 backlog of ${tenth * 10} mails, XMPP server away`;
  const p = (values: number[], q: number) => percentile(values, q);
  return [
    { scenario, metric: "accepted, first tenth", unit: "mails/s", gateway: rates[0]!, reference: null },
    { scenario, metric: "accepted, last tenth", unit: "mails/s", gateway: rates[9]!, reference: null },
    { scenario, metric: "accepted, last tenth ÷ first", unit: "×", gateway: rates[9]! / rates[0]!, reference: null, target: { min: 0.8 } },
    { scenario, metric: "gateway + PostgreSQL CPU per mail, first tenth", unit: "ms", gateway: cpu[0]!, reference: null },
    { scenario, metric: "gateway + PostgreSQL CPU per mail, last tenth", unit: "ms", gateway: cpu[9]!, reference: null },
    { scenario, metric: "RCPT latency during the backlog p50", unit: "ms", gateway: p(rcpt, 50), reference: null },
    { scenario, metric: "RCPT latency during the backlog p99", unit: "ms", gateway: p(rcpt, 99), reference: null },
    { scenario, metric: "live end to end (server up)", unit: "mails/s", gateway: live, reference: null },
    { scenario, metric: "drain once the server is back", unit: "mails/s", gateway: drain, reference: null },
    { scenario, metric: "drain ÷ live", unit: "×", gateway: drain / live, reference: null },
    { scenario, metric: "server back → link online", unit: "s", gateway: reconnect, reference: null },
    { scenario, metric: "database bytes per mail, waiting", unit: "bytes", gateway: full.bytes / full.mails, reference: null },
    { scenario, metric: "database bytes per mail, delivered", unit: "bytes", gateway: perMail(delivered), reference: null },
    { scenario, metric: "database bytes per mail, pruned (VACUUM)", unit: "bytes", gateway: perMail(pruned), reference: null },
    { scenario, metric: "database bytes per mail, pruned (VACUUM FULL)", unit: "bytes", gateway: perMail(compact), reference: null },
    { scenario, metric: "pruning", unit: "mails/s", gateway: totals.cleared / pruneSeconds, reference: null },
    { scenario, metric: "prune batch (one transaction) p50", unit: "ms", gateway: p(batchMs, 50), reference: null },
    { scenario, metric: "prune batch (one transaction) max", unit: "ms", gateway: Math.max(...batchMs), reference: null },
    { scenario, metric: "RCPT latency while pruning p99", unit: "ms", gateway: p(pruneRcpt, 99), reference: null },
  ];
}
