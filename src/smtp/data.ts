// The DATA phase of one transaction: the message is held once (mail/raw-buffer.ts, shared memory when
// large) and counted in the memory budget (memory.ts) while it arrives. Both limits are enforced on the
// data itself, and the data is always read to its final dot: smtp-server answers only then, so the
// client gets its answer and is never cut while it waits for it.
import type { SMTPServerDataStream, SMTPServerSession } from "smtp-server";
import type { Logger } from "../log.ts";
import { createRawCollector, type RawCollector } from "../mail/raw-buffer.ts";
import type { SessionGuard } from "./limits.ts";
import { declaredSize, insufficientStorage, type SmtpMemory } from "./memory.ts";
import { replies, type SmtpReply } from "./replies.ts";

export type Received =
  /** the whole mail, counted until `release()` (call it once the transaction is answered) */
  | { ok: true; raw: Buffer; size: number; release(): void }
  /** over SMTP_MAX_SIZE (`552 5.3.4`) or past the memory budget (`451 4.3.1`); nothing is held */
  | { ok: false; reason: "size" | "memory"; reply: SmtpReply };

export interface DataDeps { maxSize: number; memory: SmtpMemory; guard: SessionGuard; log: Logger }

/** Resolves after the final dot; never when the client goes away first (nothing is held then). */
export function receiveData(stream: SMTPServerDataStream, session: SMTPServerSession, deps: DataDeps): Promise<Received> {
  const { maxSize, guard } = deps;
  let collector: RawCollector | null = createRawCollector(maxSize);
  const receiving = deps.memory.receive(session, declaredSize(session), maxSize);
  guard.dataMode(session, true);
  return new Promise((resolve) => {
    stream.on("data", (chunk: Buffer) => {
      if (receiving.take(chunk.length)) collector?.push(chunk);
      else collector = null; // nothing more is kept, and what was is let go
    });
    let ended = false;
    stream.on("error", () => undefined);
    stream.on("close", () => {
      if (ended) return;
      guard.dataMode(session, false);
      receiving.release();
      collector = null;
    });
    stream.on("end", () => {
      ended = true;
      guard.dataMode(session, false);
      const size = receiving.size;
      if (stream.sizeExceeded || size > maxSize) {
        receiving.release();
        deps.log.info({ session: session.id, size }, "message refused: too big");
        return resolve({ ok: false, reason: "size", reply: replies.tooBig(maxSize) });
      }
      if (receiving.refused || !collector) {
        receiving.release();
        return resolve({ ok: false, reason: "memory", reply: insufficientStorage() });
      }
      resolve({ ok: true, raw: collector.finish(), size, release: () => receiving.release() });
    });
  });
}
