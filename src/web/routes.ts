// GET /m/<token> and GET /m/<token>/a/<index>/<filename> (core/links.ts):
// the page built once and kept, attachments from their byte ranges (mail-page.ts).
import type { ServerResponse } from "node:http";
import type { Logger } from "../log.ts";
import { WEB_TOKEN } from "../core/links.ts";
import { attachmentHeaders, PAGE_HEADERS } from "./headers.ts";
import type { MailPages, WebMail } from "./mail-page.ts";
import { renderNotFound } from "./page.ts";

export interface WebConfig {
  /** WEB_LINK_DAYS: a link lives this long after the mail was accepted */
  linkDays: number;
  /** pages and attachments served at once (each holds parts of a mail in memory); others wait their turn */
  maxConcurrent: number;
  /** requests that may wait for a turn; past that, 503 */
  maxWaiting?: number;
}

export interface WebDeps {
  byToken(token: string, linkDays: number): Promise<WebMail | undefined>;
  page: MailPages["page"];
  attachment: MailPages["attachment"];
  log: Pick<Logger, "warn">;
}

const ROUTE = /^\/m\/([^/]+)(?:\/a\/(\d{1,5})(?:\/[^/]*)?)?$/;

export function createWebPages(config: WebConfig, deps: WebDeps) {
  // A page with inline images asks for them all at once, each a read of the same mail: they queue.
  let busy = 0;
  const waiting: (() => void)[] = [];
  const maxWaiting = config.maxWaiting ?? 64;
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else busy--;
  };
  const notFound = (res: ServerResponse): void => void res.writeHead(404, PAGE_HEADERS).end(renderNotFound());
  const plain = (res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void =>
    void res.writeHead(status, { ...PAGE_HEADERS, "content-type": "text/plain; charset=utf-8", ...extra }).end(`${text}\n`);

  async function serve(token: string, index: number | null, res: ServerResponse): Promise<void> {
    const found = await deps.byToken(token, config.linkDays);
    // Unknown and expired: one answer, the same bytes (nothing tells which, or that the token ever existed).
    if (!found) return notFound(res);
    if (index === null) {
      const page = await deps.page(found, token);
      if (page === null) return plain(res, 413, "This mail is too large to be shown here.");
      res.writeHead(200, PAGE_HEADERS).end(page);
      return;
    }
    const attachment = await deps.attachment(found, index);
    if (attachment === undefined) return notFound(res);
    if (attachment === null) return plain(res, 413, "This attachment is too large to be shown here.");
    res.writeHead(200, { ...attachmentHeaders(attachment.part.contentType, attachment.part.filename),
      "content-length": String(attachment.content.length) }).end(attachment.content);
  }

  /** Answers every path under /m/. */
  return (path: string, res: ServerResponse): void => {
    const m = ROUTE.exec(path);
    if (!m || !WEB_TOKEN.test(m[1]!)) {
      notFound(res);
      return;
    }
    const run = () => serve(m[1]!, m[2] === undefined ? null : Number(m[2]), res).catch((err: Error) => {
      deps.log.warn({ err: err.message }, "could not show a mail on the web");
      if (!res.headersSent) plain(res, 503, "This mail cannot be shown right now, try again later.", { "retry-after": "30" });
      else res.destroy();
    }).finally(release);
    if (busy < config.maxConcurrent) {
      busy++;
      void run();
    } else if (waiting.length < maxWaiting) {
      // The turn passes from release() (busy stays the same); a client that went away meanwhile passes it on.
      waiting.push(() => (res.destroyed || res.socket?.destroyed ? release() : void run()));
    } else {
      plain(res, 503, "Busy, try again in a moment.", { "retry-after": "5" });
    }
  };
}
