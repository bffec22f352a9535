// GET /presence/<id>[.svg|.json|.txt|.html]: a user's presence badge (docs/design.md §Presence badges).
// An unknown id and a revoked one get the same 404; nothing served loads anything else.
import type { ServerResponse } from "node:http";
import { badgeJson, badgeSnippet, badgeSvg, badgeText, pickLanguage, type BadgeView } from "../core/badge-render.ts";
import type { Logger } from "../log.ts";

export interface BadgeRoutesDeps {
  byId(id: string): Promise<(BadgeView & { showMessage: boolean }) | undefined>;
  log: Logger;
}

const ID = /^[0-9a-z]{26}$/;
const PATH = /^\/presence\/([^/.]+)(?:\.(svg|json|txt|html))?$/;
const TYPES = { svg: "image/svg+xml", json: "application/json", txt: "text/plain; charset=utf-8", html: "text/html; charset=utf-8" };
/** A few seconds: a page that polls sees a change soon, and a popular page costs one read per interval. */
const CACHE = "public, max-age=5";
const COMMON = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'",
  "x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "cross-origin-resource-policy": "cross-origin",
};

/** Badge reads in flight at once (docs/design.md §Budgets); past it, 503 with Retry-After. */
export const BADGE_READS = 16;

export function createBadgeRoutes(config: { publicUrl: string; maxConcurrent?: number }, deps: BadgeRoutesDeps) {
  const base = config.publicUrl.replace(/\/$/, "");
  const max = config.maxConcurrent ?? BADGE_READS;
  let inFlight = 0;
  const notFound = (res: ServerResponse) => res.writeHead(404, { "content-type": "text/plain; charset=utf-8", "cache-control": CACHE, ...COMMON }).end("not found\n");
  return (path: string, acceptLanguage: string | undefined, res: ServerResponse): void => {
    const match = PATH.exec(path);
    const id = match?.[1] ?? "";
    if (!match || !ID.test(id)) return void notFound(res);
    if (inFlight >= max) return void res.writeHead(503, { "retry-after": "5", "cache-control": "no-store" }).end();
    inFlight++;
    deps.byId(id).finally(() => inFlight--).then((badge) => {
      if (!badge) return notFound(res);
      const view: BadgeView = { status: badge.status, message: badge.showMessage ? badge.message : null, since: badge.since };
      const kind = (match[2] ?? "svg") as keyof typeof TYPES;
      const language = pickLanguage(acceptLanguage);
      const body = kind === "svg" ? badgeSvg(view, language) : kind === "json" ? badgeJson(view)
        : kind === "txt" ? badgeText(view, language) : badgeSnippet(`${base}/presence/${id}`, view, language);
      res.writeHead(200, {
        "content-type": TYPES[kind], "cache-control": CACHE, "vary": "accept-language", ...COMMON,
        ...(kind === "json" ? { "access-control-allow-origin": "*" } : {}),
        "content-language": language, "last-modified": badge.since.toUTCString(),
      }).end(body);
    }, (err: Error) => {
      deps.log.warn({ err: err.message }, "badge not read");
      res.writeHead(503, { "cache-control": "no-store" }).end();
    });
  };
}
