// Scenario 4: chat → mail. A user writes to mail contacts (20, in turn: a user answering many people);
// the gateway relays to an smtp-sink. Mails to one correspondent leave in order, so one contact alone
// would measure a single relay connection.
import { contactJid } from "../test/support/stack.ts";
import { waitFor } from "../test/support/wait.ts";
import { xml } from "../test/support/xmpp-client.ts";
import { assertAllDelivered, type BenchContext } from "./context.ts";
import { startCpuMeter } from "./cpu.ts";
import { runSmtpSource } from "./postfix.ts";
import type { Sample } from "./report.ts";

const TEXT = "Thanks, that works for me. ".repeat(20);

export async function outbound(ctx: BenchContext): Promise<Sample[]> {
  const { stack, options } = ctx;
  const n = options.outbound;
  // The reference: the same number of ~1 KiB mails from smtp-source over reused connections into smtp-sink.
  const ref = await runSmtpSource({ port: ctx.sink.port, sessions: options.senders, messages: n, payload: 1024, reuse: true,
    from: stack.address, to: "alice@example.com" });
  if (ref.code !== 0) throw new Error(`smtp-source → smtp-sink failed: ${ref.stderr}`);

  const delivered = async () => (await stack.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM deliveries WHERE direction = 'outbound' AND status = 'delivered'"))[0]!.n;
  const base = await delivered();
  const contacts = Array.from({ length: 20 }, (_, i) => contactJid(`corr${i}@example.com`));
  const ids = Array.from({ length: n }, (_, i) => `out-${base + i}-${Date.now()}`);
  const refused = () => ids.filter((id) => stack.receiver.errors.has(id));
  const meter = await startCpuMeter(stack);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await stack.receiver.client.send(xml("message", { type: "chat", to: contacts[i % contacts.length], id: ids[i] },
      xml("body", {}, `${i} ${TEXT}`)));
  }
  // Every message ends at the relay or comes back as an error to its sender (then it was not queued).
  await waitFor(`${n} mails at the relay or refused`, async () => (await delivered()) + refused().length >= base + n,
    Math.max(120_000, n * 50), 20);
  const ms = performance.now() - t0;
  const cpu = await meter.stop();
  await assertAllDelivered(ctx, "outbound");
  const errors = refused();
  if (errors.length) ctx.log(`4 outbound: ${errors.length} chat messages refused, e.g. ${stack.receiver.errors.get(errors[0]!)}`);
  const rate = (n - errors.length) / (ms / 1000);
  const sinkRate = n / (ref.ms / 1000);
  ctx.log(`4 outbound: ${rate.toFixed(0)} mails/s to the relay, sink ${sinkRate.toFixed(0)}/s`);
  return [{ scenario: "4 outbound chat → relay", metric: "relayed", unit: "mails/s", gateway: rate, reference: sinkRate,
    target: { min: 1000 } },
    { scenario: "4 outbound chat → relay", metric: "gateway CPU per mail", unit: "ms", gateway: cpu.gateway / n, reference: null },
    { scenario: "4 outbound chat → relay", metric: "PostgreSQL CPU per mail", unit: "ms", gateway: cpu.postgres / n, reference: null },
    { scenario: "4 outbound chat → relay", metric: "refused (error to the user)", unit: "messages", gateway: errors.length,
      reference: null, target: { max: 1 } }];
}
