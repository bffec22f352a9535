// HTTP_LISTEN: /healthz (JSON; `role` says link or standby, docs/design.md §Several instances; 503 until the
// database answers and, on the link's holder, the XMPP link is online; `xmpp` names the link's state,
// docs/design.md §XMPP link) and /metrics.
// The public routes (/m/, /presence/) count against the budgets of their client (web/clients.ts); every
// connection against its peer's and the overall cap; a request's header must arrive within a deadline.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createWebClients, type WebClientLimits } from "../web/clients.ts";

export interface HealthReport { ok: boolean; [part: string]: unknown }

export interface HttpDeps {
  health(): Promise<HealthReport>;
  /** Prometheus text exposition (GET /metrics) */
  metrics?(): Promise<{ contentType: string; body: string }>;
  /** every path under /m/: the full mail on the web (web/routes.ts), when PUBLIC_URL is set */
  web?(path: string, res: ServerResponse): void;
  /** every path under /presence/: presence badges (web/badges.ts), when PUBLIC_URL is set */
  presence?(path: string, acceptLanguage: string | undefined, res: ServerResponse): void;
}

export interface HttpConfig {
  listen: { host: string; port: number };
  clients: WebClientLimits;
  /** HTTP_MAX_CONNECTIONS: open connections overall; past it new ones are closed at once */
  maxConnections: number;
  /** HTTP_HEADERS_TIMEOUT_MS: a request's header must be complete this long after its first byte (408) */
  headersTimeoutMs: number;
}

/** A connection that sends and reads nothing this long is closed; an answer the client does not read too. */
const IDLE_MS = 60_000;

export function createHttpServer(config: HttpConfig, deps: HttpDeps) {
  const clients = createWebClients(config.clients, { now: Date.now });
  const { listen } = config;

  /** Run a public route within its client's budget; past it, 429 with Retry-After (RFC 6585 §4). */
  const budgeted = (req: IncomingMessage, res: ServerResponse, route: () => void): void => {
    const xff = req.headers["x-forwarded-for"];
    const held = clients.admit(clients.clientOf(req.socket.remoteAddress, Array.isArray(xff) ? xff.join(",") : xff));
    if (typeof held !== "function") {
      res.writeHead(429, { "content-type": "text/plain; charset=utf-8", "retry-after": String(held.retryAfter), "cache-control": "no-store" })
        .end(held.reason === "rate" ? "Too many requests from your address; try again in a moment.\n"
          : "Your address already has requests being answered; try again when they are done.\n");
      return;
    }
    // "close": the answer is sent, or the client went away; either way its turn is over.
    res.once("close", held);
    route();
  };

  const server: Server = createServer({
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.headersTimeoutMs * 3,
    // How often the two deadlines above are looked at (Node checks every 30 s by default).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(config.headersTimeoutMs / 2))),
  }, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
    } else if (path === "/healthz") {
      deps.health().then((report) => {
        res.writeHead(report.ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
        res.end(JSON.stringify(report));
      }, () => res.writeHead(503).end());
    } else if (path === "/metrics" && deps.metrics) {
      deps.metrics().then(({ contentType, body }) => {
        res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(body);
      }, () => res.writeHead(500).end());
    } else if (path?.startsWith("/m/") && deps.web) {
      const web = deps.web;
      budgeted(req, res, () => web(path, res));
    } else if (path?.startsWith("/presence/") && deps.presence) {
      const presence = deps.presence;
      budgeted(req, res, () => presence(path, req.headers["accept-language"], res));
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  server.maxConnections = config.maxConnections;
  server.setTimeout(IDLE_MS);
  server.on("connection", (socket) => {
    const release = clients.connect(socket.remoteAddress);
    if (!release) return void socket.destroy();
    socket.once("close", release);
  });
  return {
    listen: () => new Promise<AddressInfo>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen.port, listen.host, () => resolve(server.address() as AddressInfo));
    }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
