// The worker thread side of parse-pool.ts: readMail on the bytes it is sent (one parse: the chat's view, the
// MIME structure with its byte ranges, the delivery report), the result sent back.
import { workerData } from "node:worker_threads";
import type { AttachmentPolicy } from "../core/attachments.ts";
import { readMail } from "./parse.ts";
import { answerJobs } from "./pool-worker.ts";

const { timeoutMs, policy } = workerData as { timeoutMs: number; policy?: AttachmentPolicy };

answerJobs((payload) => {
  const raw = payload as Uint8Array;
  return readMail(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), { timeoutMs, ...(policy ? { policy } : {}) });
});
