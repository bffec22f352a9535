// Scenarios 1–3: mail in, chat out. Each figure beside the same load against smtp-sink.
import { availableParallelism } from "node:os";
import { startCpuMeter } from "./cpu.ts";
import { cpuMs } from "./proc.ts";
import { assertAllDelivered, MAIL_BYTES, SENDER, SOURCE_PAYLOAD, type BenchContext } from "./context.ts";
import { runPaced } from "./load.ts";
import { runSmtpSource } from "./postfix.ts";
import type { Sample } from "./report.ts";
import { percentile } from "./stats.ts";

const FLOOR_TIMES = 5;
/** The gateway's threads by name (bench/cpu.ts), as their share of its CPU per mail is reported. */
const THREADS: [string, string][] = [["MainThread", "main thread"], ["auth", "auth thread"], ["WorkerThread", "parse threads"],
  ["V8Worker", "V8 helper threads (GC)"], ["libuv-worker", "libuv threads"]];

/**
 * 1 (one mail per connection), 2 (`reuse`: smtp-source -d) and 6 (reused, each mail DKIM-signed:
 * smtp-source -F): mails/s from the first connection until the client has every one of them, against
 * smtp-source's own rate into smtp-sink; CPU per mail against smtp-server alone under the same load.
 */
export async function burst(ctx: BenchContext, kind: { reuse: boolean; signed?: boolean }): Promise<Sample[]> {
  const { stack, options } = ctx;
  const { reuse } = kind;
  const file = kind.signed ? await ctx.auth.signedFile(stack.address) : undefined;
  const load = { sessions: options.senders, messages: options.mails, payload: SOURCE_PAYLOAD, reuse, from: SENDER, to: stack.address,
    ...(file ? { file } : {}) };
  const ref = await runSmtpSource({ ...load, port: ctx.sink.port });
  if (ref.code !== 0) throw new Error(`smtp-source → smtp-sink failed: ${ref.stderr}`);
  // Over reused connections five times the mails: the floor's CPU is counted in 10 ms ticks, and it uses
  // little of it (one mail per connection waits out smtp-server's 100 ms greeting: that would take long).
  const floorMails = (reuse ? FLOOR_TIMES : 1) * options.mails;
  const floorBefore = await cpuMs(ctx.floor.pid);
  const floorRun = await runSmtpSource({ ...load, messages: floorMails, port: ctx.floor.port });
  if (floorRun.code !== 0) throw new Error(`smtp-source → smtp-server alone failed: ${floorRun.stderr}`);
  const floor = (await cpuMs(ctx.floor.pid) - floorBefore) / floorMails;

  const before = stack.receiver.count();
  const duplicates = stack.receiver.duplicates();
  const queries = ctx.auth.dns.queries;
  let t0 = 0;
  const meter = await startCpuMeter(stack);
  const run = await runSmtpSource({ ...load, port: stack.gateway.smtpPort }, () => { t0 = performance.now(); });
  if (run.code !== 0) throw new Error(`smtp-source → gateway failed: ${run.stderr}`);
  const last = await stack.receiver.waitForCount(before + options.mails, Math.max(120_000, options.mails * 20));
  const cpu = await meter.stop();
  await assertAllDelivered(ctx, "inbound");
  if (stack.receiver.count() !== before + options.mails) throw new Error("more messages than mails sent");
  if (kind.signed) await assertSigned(ctx);

  const scenario = kind.signed ? "6 inbound DKIM-signed, reused connections" : reuse ? "2 inbound, reused connections" : "1 inbound, one mail per connection";
  const sinkRate = options.mails / (ref.ms / 1000);
  const e2e = options.mails / ((last - t0) / 1000);
  const accepted = options.mails / (run.ms / 1000);
  const perMail = cpu.gateway / options.mails;
  ctx.log(`${scenario}: ${e2e.toFixed(0)} mails/s end to end, ${accepted.toFixed(0)} accepted/s, sink ${sinkRate.toFixed(0)}/s; `
    + `gateway CPU ${perMail.toFixed(2)} ms a mail, smtp-server alone ${floor.toFixed(3)} ms (×${(perMail / floor).toFixed(1)})`);
  return [
    { scenario, metric: "end to end", unit: "mails/s", gateway: e2e, reference: sinkRate,
      target: { min: reuse ? 2000 : 1000, minRatio: 0.25 } },
    { scenario, metric: "accepted (250)", unit: "mails/s", gateway: accepted, reference: sinkRate },
    { scenario, metric: "gateway CPU per mail", unit: "ms", gateway: perMail, reference: null },
    ...THREADS.map(([name, label]) => ({ scenario, metric: `gateway CPU per mail: ${label}`, unit: "ms",
      gateway: (cpu.threads[name] ?? 0) / options.mails, reference: null })),
    { scenario, metric: "smtp-server alone CPU per mail (floor)", unit: "ms", gateway: floor, reference: null },
    { scenario, metric: "gateway CPU per mail ÷ floor", unit: "×", gateway: perMail / floor, reference: null,
      ...(kind.signed ? { target: { max: 6 } } : {}) },
    { scenario, metric: "PostgreSQL CPU per mail", unit: "ms", gateway: cpu.postgres / options.mails, reference: null },
    { scenario, metric: "Prosody CPU per mail", unit: "ms", gateway: cpu.prosody / options.mails, reference: null },
    { scenario, metric: "load + client CPU per mail", unit: "ms", gateway: cpu.load / options.mails, reference: null },
    { scenario, metric: "DNS queries per mail", unit: "queries", gateway: (ctx.auth.dns.queries - queries) / options.mails, reference: null },
    // Every part shares the machine's cores: this rate is the most they allow, whatever the waits.
    { scenario, metric: "CPU-bound ceiling", unit: "mails/s", reference: null,
      gateway: (availableParallelism() * 1000 * options.mails) / (cpu.gateway + cpu.postgres + cpu.prosody + cpu.load) },
    { scenario, metric: "duplicates", unit: "messages", gateway: stack.receiver.duplicates() - duplicates, reference: null,
      target: { max: 1 } },
  ];
}

/** The signed mails were really verified: the last one stored carries dkim=pass (sender authentication on). */
async function assertSigned(ctx: BenchContext): Promise<void> {
  const [row] = await ctx.stack.db.query<{ head: string }>(
    "SELECT convert_from(substring(raw FROM 1 FOR 3000), 'UTF8') AS head FROM messages ORDER BY id DESC LIMIT 1");
  const auth = /^Authentication-Results:.*(?:\r\n[ \t].*)*/m.exec(row?.head ?? "")?.[0];
  if (auth && !/dkim=pass/.test(auth)) throw new Error(`scenario 6: the signed mail did not verify: ${auth}`);
}

/** 3: a steady offered rate; latency from each `250` to the client's receipt of that mail. */
export async function latency(ctx: BenchContext): Promise<Sample[]> {
  const { stack, options } = ctx;
  const load = { rate: options.rate, seconds: options.seconds, sessions: options.senders, from: SENDER, to: stack.address, size: MAIL_BYTES };
  const ref = await runPaced({ ...load, port: ctx.sink.port });
  const before = stack.receiver.count();
  const run = await runPaced({ ...load, port: stack.gateway.smtpPort });
  if (run.refused > 0) throw new Error(`${run.refused} mails refused by the gateway`);
  await stack.receiver.waitForCount(before + run.accepted.length, 120_000);
  await assertAllDelivered(ctx, "inbound");
  // Stanza ids are random (docs/design.md §Who speaks for a delivery): the table maps queue ids to them.
  const ids = new Map((await stack.db.query<{ token: string; stanza_id: string }>(
    "SELECT m.token, d.stanza_id FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE m.token = ANY($1)",
    [run.accepted.map((a) => a.token)])).map((r) => [r.token, r.stanza_id]));
  const delays = run.accepted.map((a) => {
    if (!a.token) throw new Error("a 250 from the gateway without its queue id");
    const arrived = stack.receiver.arrivals.get(ids.get(a.token) ?? "");
    if (arrived === undefined) throw new Error(`mail ${a.token} never reached the client`);
    return arrived - a.at;
  });
  const scenario = `3 latency at ${options.rate} mails/s`;
  const p = (q: number) => percentile(delays, q);
  ctx.log(`${scenario}: 250→client p50 ${p(50).toFixed(1)} ms, p95 ${p(95).toFixed(1)}, p99 ${p(99).toFixed(1)}; offered ${run.achievedPerSec.toFixed(0)}/s`);
  const data = (r: typeof run, q: number) => percentile(r.accepted.map((a) => a.dataMs), q);
  return [
    { scenario, metric: "250 → client p50", unit: "ms", gateway: p(50), reference: null },
    { scenario, metric: "250 → client p95", unit: "ms", gateway: p(95), reference: null },
    { scenario, metric: "250 → client p99", unit: "ms", gateway: p(99), reference: null, target: { max: 50 } },
    { scenario, metric: "DATA → 250 p50", unit: "ms", gateway: data(run, 50), reference: data(ref, 50) },
    { scenario, metric: "DATA → 250 p99", unit: "ms", gateway: data(run, 99), reference: data(ref, 99) },
    { scenario, metric: "offered rate achieved", unit: "mails/s", gateway: run.achievedPerSec, reference: ref.achievedPerSec },
  ];
}
