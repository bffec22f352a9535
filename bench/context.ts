// What every scenario gets: the stack under test, the reference smtp-sink, the options.
import type { BenchAuth } from "./auth.ts";
import type { Floor } from "./floor.ts";
import type { BenchOptions } from "./options.ts";
import type { SmtpSink } from "./postfix.ts";
import type { BenchStack } from "./stack.ts";
import { waitFor } from "../test/support/wait.ts";

export interface BenchContext {
  stack: BenchStack;
  /** the reference: smtp-sink under the same load */
  sink: SmtpSink;
  /** the gateway's relay (SMTP_RELAY), another smtp-sink */
  relay: SmtpSink;
  /** smtp-server alone, reading the data and nothing else: the gateway's CPU per mail is compared to it */
  floor: Floor;
  /** the DNS server sender authentication asks, and the DKIM-signed mail */
  auth: BenchAuth;
  options: BenchOptions;
  log(message: string): void;
}

export const SENDER = "bench@example.com";
/** "2 KiB mails": smtp-source adds about 130 bytes of headers to its payload. */
export const MAIL_BYTES = 2048;
export const SOURCE_PAYLOAD = MAIL_BYTES - 130;

/** Every inbound delivery delivered (none missing, none failed); throws with the counts otherwise. */
export async function assertAllDelivered(ctx: BenchContext, direction: "inbound" | "outbound"): Promise<void> {
  const undone = async () => (await ctx.stack.db.query<{ status: string; n: number }>(
    "SELECT status, count(*)::int AS n FROM deliveries WHERE direction = $1 AND status <> 'delivered' GROUP BY status",
    [direction]));
  await waitFor(`every ${direction} delivery marked delivered`, async () => (await undone()).length === 0, 30_000, 50)
    .catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await undone())}`);
    });
}
