// The worker thread side of worker-pool.ts: each job posted in is handed to `handle`, its value or its
// error posted back under the job's id.
import { parentPort } from "node:worker_threads";
import type { JobRequest, JobResponse } from "./worker-pool.ts";

export function answerJobs(handle: (payload: unknown) => Promise<unknown>): void {
  parentPort!.on("message", (request: JobRequest) => {
    handle(request.payload).then(
      (value) => parentPort!.postMessage({ id: request.id, value } satisfies JobResponse),
      (err: Error) => parentPort!.postMessage({ id: request.id, error: err.message } satisfies JobResponse),
    );
  });
}
