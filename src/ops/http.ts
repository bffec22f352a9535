// HTTP_LISTEN: /healthz (JSON; `role` says link or standby, docs/design.md §Several instances; 503 until the
// database answers and, on the link's holder, the XMPP link is online; `xmpp` names the link's state,
// docs/design.md §XMPP link) and /metrics.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

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

export function createHttpServer(listen: { host: string; port: number }, deps: HttpDeps) {
  const server: Server = createServer((req, res) => {
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
      deps.web(path, res);
    } else if (path?.startsWith("/presence/") && deps.presence) {
      deps.presence(path, req.headers["accept-language"], res);
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
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
