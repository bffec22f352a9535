// Helpers for the full-mail-on-the-web tests: a MIME builder, a loopback "remote site" that counts the
// requests it gets, and Debian's Chromium driven by playwright-core.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A 1×1 PNG. */
export const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

export const CHROMIUM = "/usr/bin/chromium";

export interface Part { type: string; body: Buffer | string; filename?: string; cid?: string }

/** multipart/mixed( multipart/related( multipart/alternative(text, html), inline images ), attachments ). */
export function richMail(headers: Record<string, string>, text: string, html: string, inline: Part[], attachments: Part[]): string {
  const part = (p: Part, disposition: string) => [
    `Content-Type: ${p.type}${p.filename ? `; name="${p.filename}"` : ""}`,
    "Content-Transfer-Encoding: base64",
    ...(p.cid ? [`Content-ID: <${p.cid}>`] : []),
    `Content-Disposition: ${disposition}${p.filename ? `; filename="${p.filename}"` : ""}`,
    "",
    Buffer.from(p.body).toString("base64").replace(/.{76}/g, "$&\r\n"),
  ].join("\r\n");
  const lines = [
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="mixed-b"',
    "",
    "--mixed-b",
    'Content-Type: multipart/related; boundary="related-b"',
    "",
    "--related-b",
    'Content-Type: multipart/alternative; boundary="alt-b"',
    "",
    "--alt-b",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from(text).toString("base64").replace(/.{76}/g, "$&\r\n"),
    "--alt-b",
    "Content-Type: text/html; charset=utf-8",
    "Content-Transfer-Encoding: base64",
    "",
    Buffer.from(html).toString("base64").replace(/.{76}/g, "$&\r\n"),
    "--alt-b--",
    ...inline.flatMap((p) => ["--related-b", part(p, "inline")]),
    "--related-b--",
    ...attachments.flatMap((p) => ["--mixed-b", part(p, "attachment")]),
    "--mixed-b--",
    "",
  ];
  return lines.join("\r\n");
}

export interface RemoteSite {
  /** http://127.0.0.1:port */
  origin: string;
  /** every path asked for, in order */
  requests: string[];
  close(): Promise<void>;
}

/** The "remote" host a mail's images, styles and scripts point at: it answers and records every request. */
export async function startRemoteSite(): Promise<RemoteSite> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? "");
    res.writeHead(200, { "content-type": "image/png", "access-control-allow-origin": "*" }).end(PNG);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
