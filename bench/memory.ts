// Scenario 5: resident size of a fresh gateway idle, with many idle SMTP sessions, and while it
// receives (and delivers) one very large mail; smtp-sink beside it for scale.
import { setTimeout as sleep } from "node:timers/promises";
import { SENDER, type BenchContext } from "./context.ts";
import { makeMail, openIdleSessions, sendOne } from "./load.ts";
import { startSmtpSink } from "./postfix.ts";
import { rssMiB, sampleRss } from "./proc.ts";
import type { Sample } from "./report.ts";

const SETTLE_MS = 2000;

interface Footprint { idle: number; sessions: number; untilAccepted: number; bigMail: number; open: number }

async function measure(port: number, pid: number, ctx: BenchContext, mail: Buffer, delivered: () => Promise<void>)
  : Promise<Footprint> {
  await sleep(SETTLE_MS);
  const idle = await rssMiB(pid);
  const sessions = await openIdleSessions(port, ctx.options.idleSessions);
  await sleep(SETTLE_MS);
  const withSessions = await rssMiB(pid);
  sessions.close();
  await sleep(SETTLE_MS);
  const before = await rssMiB(pid);
  const sampler = sampleRss(pid);
  const code = await sendOne(port, SENDER, ctx.stack.address, mail);
  if (code !== 250) throw new Error(`the large mail got ${code}`);
  const accepted = await sampler.peak();
  await delivered();
  const peak = await sampler.stop();
  return { idle, sessions: withSessions - idle, untilAccepted: accepted - before, bigMail: peak - before, open: sessions.open };
}

export async function memory(ctx: BenchContext): Promise<Sample[]> {
  const { stack, options } = ctx;
  // Just under SMTP_MAX_SIZE (25 MiB by default), our Received: header included.
  const mail = makeMail(SENDER, stack.address, options.bigMailMiB * 2 ** 20 - 64 * 1024, "large");

  const sink = await startSmtpSink(options.idleSessions + 16);
  let ref: Footprint;
  try {
    ref = await measure(sink.port, sink.pid, ctx, mail, async () => undefined);
  } finally {
    await sink.stop();
  }

  // A fresh gateway process: idle means nothing has been sent to it yet.
  await stack.gateway.stop();
  await stack.gateway.start();
  const pid = await stack.gatewayPid();
  const before = stack.receiver.count();
  const gw = await measure(stack.gateway.smtpPort, pid, ctx, mail, async () => {
    await stack.receiver.waitForCount(before + 1, 120_000);
  });
  if (gw.open !== options.idleSessions) throw new Error(`only ${gw.open} of ${options.idleSessions} idle sessions opened`);

  const scenario = "5 memory (RSS)";
  ctx.log(`${scenario}: idle ${gw.idle.toFixed(0)} MiB, +${gw.sessions.toFixed(0)} MiB for ${gw.open} sessions, +${gw.bigMail.toFixed(0)} MiB for the large mail`);
  return [
    { scenario, metric: "idle", unit: "MiB", gateway: gw.idle, reference: ref.idle, target: { max: 120 } },
    { scenario, metric: `+ ${options.idleSessions} idle sessions`, unit: "MiB", gateway: gw.sessions, reference: ref.sessions, target: { max: 100 } },
    { scenario, metric: `+ one ${options.bigMailMiB} MiB mail, peak until its 250`, unit: "MiB", gateway: gw.untilAccepted, reference: ref.untilAccepted },
    { scenario, metric: `+ one ${options.bigMailMiB} MiB mail, peak until delivered`, unit: "MiB", gateway: gw.bigMail, reference: ref.bigMail, target: { max: 100 } },
  ];
}
