// Web pages built in worker threads (docs/design.md §Parsing once): decoding a mail's text parts and
// sanitizing its HTML read the mail's own bytes, and HTML can be made to keep sanitize-html busy for
// minutes. So each page is built once, here, within PAGE_TIMEOUT_MS and the parse heap limit (the same pool
// code as the mail parse, its own instance: a page being built never delays a mail being accepted).
import type { Logger } from "../log.ts";
import { createWorkerPool } from "../mail/worker-pool.ts";
import type { PageSource } from "./view.ts";

export type PageBuild = { html: string } | { failed: string };

export interface PagePool {
  build(source: PageSource): Promise<PageBuild>;
  close(): Promise<void>;
}

const WORKER = new URL("./page-worker.ts", import.meta.url);

export function createPagePool(config: { size: number; timeoutMs: number; memoryMb: number }, deps: { log: Logger }): PagePool {
  const pool = createWorkerPool({ ...config, script: WORKER, name: "page" }, deps);
  return {
    build: (source) => pool.run<PageBuild>({
      payload: source, size: source.texts.reduce((n, t) => n + t.body.length, 0),
      transfer: source.texts.map((t) => t.body.buffer as ArrayBuffer),
      fallback: (reason) => ({ failed: reason }),
    }).then((value) => (typeof value === "string" ? { html: value } : value)),
    close: () => pool.close(),
  };
}
