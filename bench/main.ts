// `npm run bench`: the load benchmark. Starts its own Prosody, database and gateway, loads it with
// Postfix's smtp-source (and a Node generator where finer control is needed), measures smtp-sink under
// the same load in the same run, and prints medians with the ratio to it.
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { BenchContext } from "./context.ts";
import { SENDER, SOURCE_PAYLOAD } from "./context.ts";
import { startBenchAuth } from "./auth.ts";
import { startFloor } from "./floor.ts";
import { backlog } from "./backlog.ts";
import { burst, latency } from "./inbound.ts";
import { memory } from "./memory.ts";
import { parseOptions } from "./options.ts";
import { outbound } from "./outbound.ts";
import { runSmtpSource, startSmtpSink } from "./postfix.ts";
import { summarizeProfiles } from "./profile.ts";
import { markdownTable, summarize, writeResults, type Sample } from "./report.ts";
import { startBenchStack } from "./stack.ts";

const SCENARIOS: Record<number, (ctx: BenchContext) => Promise<Sample[]>> = {
  1: (ctx) => burst(ctx, { reuse: false }),
  2: (ctx) => burst(ctx, { reuse: true }),
  3: latency,
  4: outbound,
  5: memory,
  6: (ctx) => burst(ctx, { reuse: true, signed: true }),
  7: backlog,
};

const options = parseOptions(process.argv.slice(2));
for (const n of options.scenarios) if (!SCENARIOS[n]) throw new Error(`no scenario ${n}`);
const log = (message: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
const profileDir = resolve(options.out, "profiles", new Date().toISOString().replace(/[:.]/g, "-"));
if (options.profile) await mkdir(profileDir, { recursive: true });

const sink = await startSmtpSink();
const relay = await startSmtpSink();
const floor = await startFloor();
const auth = await startBenchAuth();
const stack = await startBenchStack({
  LOG_LEVEL: options.logLevel,
  // The default path: sender authentication on, asking a DNS server on loopback that answers
  // (BENCH_GATEWAY_ENV="AUTH_MODE=off" measures without it).
  AUTH_MODE: "mark",
  DNS_SERVERS: auth.dns.address,
  SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`,
  // BENCH_GATEWAY_NODE_OPTIONS: try runtime flags on the gateway alone (e.g. --max-semi-space-size=2).
  NODE_OPTIONS: [process.env.BENCH_GATEWAY_NODE_OPTIONS ?? "", options.profile ? `--cpu-prof --cpu-prof-dir=${profileDir}` : ""]
    .filter(Boolean).join(" "),
  // BENCH_GATEWAY_ENV="NAME=value …": try a setting on the gateway alone (e.g. SMTP_GREET_PASS_SECONDS=0).
  ...Object.fromEntries((process.env.BENCH_GATEWAY_ENV ?? "").split(/\s+/).filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)])),
});
log(`stack up: gateway smtp ${stack.gateway.smtpPort}, prosody c2s ${stack.prosody.c2sPort}, sink ${sink.port}, relay ${relay.port}, floor ${floor.port}, dns ${auth.dns.address}`);
const ctx: BenchContext = { stack, sink, relay, floor, auth, options, log };
// Ctrl-C: leave no database, Prosody or sink behind (test/support's handler kills Prosody too).
process.once("SIGINT", () => {
  void Promise.allSettled([stack.close(), sink.stop(), relay.stop(), floor.stop(), auth.close()]).then(() => process.exit(130));
});

let code = 0;
const samples: Sample[] = [];
try {
  // Warm-up, not measured: JIT, connection pools, Prosody's session.
  const warm = Math.min(200, options.mails);
  const before = stack.receiver.count();
  await runSmtpSource({ port: stack.gateway.smtpPort, sessions: 10, messages: warm, payload: SOURCE_PAYLOAD, reuse: true, from: SENDER, to: stack.address });
  await stack.receiver.waitForCount(before + warm, 60_000);
  // The signed mail too (scenario 6): mailauth's DKIM path warm, its DNS answers asked once.
  const signed = await auth.signedFile(stack.address);
  await runSmtpSource({ port: stack.gateway.smtpPort, sessions: 10, messages: warm, payload: SOURCE_PAYLOAD, reuse: true, from: SENDER, to: stack.address, file: signed });
  await stack.receiver.waitForCount(before + 2 * warm, 60_000);
  for (const f of [undefined, signed]) {
    await runSmtpSource({ port: floor.port, sessions: 10, messages: warm, payload: SOURCE_PAYLOAD, reuse: true, from: SENDER, to: stack.address, ...(f ? { file: f } : {}) });
  }
  for (let run = 1; run <= options.runs; run++) {
    log(`run ${run} of ${options.runs}`);
    // 6 beside 1 and 2 (same kind of load), before 5 restarts the gateway; 7 (stops the XMPP server) last.
    for (const n of [1, 2, 6, 3, 4, 5, 7].filter((k) => options.scenarios.has(k))) {
      const scenario = SCENARIOS[n]!;
      samples.push(...await scenario(ctx));
    }
  }
  const rows = summarize(samples);
  const args = process.argv.slice(2);
  const command = args.length ? `npm run bench -- ${args.join(" ")}` : "npm run bench";
  console.log(`\n${markdownTable(rows)}\n`);
  const file = await writeResults(options.out, { options: { ...options, scenarios: [...options.scenarios] }, samples, rows, command });
  log(`results in ${file}`);
} catch (err) {
  console.error(err);
  console.error((await stack.prosody.logs()).slice(-4000));
  console.error(stack.gateway.output().slice(-4000));
  code = 1;
} finally {
  if (options.keepLogs) await writeFile(resolve(options.out, "gateway.log"), stack.gateway.output());
  await stack.close();
  await sink.stop();
  await relay.stop();
  await floor.stop();
  await auth.close();
}
if (options.profile) console.log(await summarizeProfiles(profileDir));
process.exit(code);
