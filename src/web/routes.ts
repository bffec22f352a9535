// GET /m/<token> and GET /m/<token>/a/<index>/<filename> (issue #4, Full mail on the web; core/links.ts).
import type { ServerResponse } from "node:http";
import type { Logger } from "../log.ts";
import { WEB_TOKEN } from "../core/links.ts";
import { attachmentHeaders, PAGE_HEADERS } from "./headers.ts";
import { renderMailPage, renderNotFound } from "./page.ts";
import type { MailView } from "./view.ts";

export interface WebConfig {
  /** WEB_LINK_DAYS: a link lives this long after the mail was accepted */
  linkDays: number;
  /** the largest stored mail parsed for a page: SMTP_MAX_SIZE plus room for our trace headers */
  maxBytes: number;
  /** mails parsed at once (each parse holds a whole mail in memory); others wait their turn */
  maxConcurrent: number;
  /** requests that may wait for a turn; past that, 503 */
  maxWaiting?: number;
}

export interface WebDeps {
  byToken(token: string, linkDays: number, maxBytes: number): Promise<{ raw: Buffer | null; size: number } | undefined>;
  read(raw: Buffer): Promise<MailView>;
  log: Pick<Logger, "warn">;
}

const ROUTE = /^\/m\/([^/]+)(?:\/a\/(\d{1,5})(?:\/[^/]*)?)?$/;

export function createWebPages(config: WebConfig, deps: WebDeps) {
  // A page with inline images asks for them all at once, each a parse of the same mail: they queue.
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
    const found = await deps.byToken(token, config.linkDays, config.maxBytes);
    // Unknown and expired: one answer, the same bytes (nothing tells which, or that the token ever existed).
    if (!found) return notFound(res);
    if (!found.raw) return plain(res, 413, "This mail is too large to be shown here.");
    const view = await deps.read(found.raw);
    if (index === null) {
      res.writeHead(200, PAGE_HEADERS).end(renderMailPage(view, token));
      return;
    }
    const attachment = view.attachments[index];
    if (!attachment) return notFound(res);
    res.writeHead(200, { ...attachmentHeaders(attachment.contentType, attachment.filename), "content-length": String(attachment.content.length) })
      .end(attachment.content);
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
