// The worker thread side of parse-pool.ts: parseMail on bytes it is sent, result or error sent back.
import { parentPort, workerData } from "node:worker_threads";
import { parseMail } from "./parse.ts";

export interface ParseRequest { id: number; raw: Uint8Array }
export type ParseResponse =
  | { id: number; parsed: Awaited<ReturnType<typeof parseMail>> }
  | { id: number; error: string };

const { timeoutMs } = workerData as { timeoutMs: number };

parentPort!.on("message", (request: ParseRequest) => {
  const raw = Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength);
  parseMail(raw, timeoutMs).then(
    (parsed) => parentPort!.postMessage({ id: request.id, parsed } satisfies ParseResponse),
    (err: Error) => parentPort!.postMessage({ id: request.id, error: err.message } satisfies ParseResponse),
  );
});
