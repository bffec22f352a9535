// HTTP response headers of the web pages and attachments.
import { SAFE_IMAGE_TYPES } from "./page.ts";

/**
 * CSP Level 3 for the mail page: nothing runs (no script-src, so default-src 'none' forbids scripts),
 * nothing loads from elsewhere (images only from our origin, for inline cid: parts, and data:), inline
 * style only (the mail's style attributes, already filtered), no framing (clickjacking), no <base>, no
 * form submission. nosniff: the browser takes our content type as given. no-referrer: the URL is the
 * secret, a link clicked in the mail must not carry it to the other site. private: not for shared caches.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "private, no-store",
  "x-robots-tag": "noindex, nofollow",
  "x-frame-options": "DENY",
};

/**
 * An attachment from our origin. Only a safe image type (page.ts) is served as itself and inline (the
 * page shows inline images, chat clients preview them); everything else — HTML, SVG, PDF, anything a
 * browser could run or render as a document on our origin — is served as application/octet-stream with
 * `Content-Disposition: attachment` (RFC 6266): the browser saves it. `sandbox` makes a document opened
 * anyway a unique origin without scripts.
 */
export function attachmentHeaders(contentType: string, filename: string | null): Record<string, string> {
  const image = SAFE_IMAGE_TYPES.has(contentType.toLowerCase());
  return {
    "content-type": image ? contentType.toLowerCase() : "application/octet-stream",
    "content-disposition": `${image ? "inline" : "attachment"}; ${dispositionFilename(filename || "attachment")}`,
    "content-security-policy": "default-src 'none'; sandbox",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "private, no-store",
    "x-robots-tag": "noindex, nofollow",
  };
}

/** RFC 6266 §4.3: an ASCII `filename` for old clients and the exact name as `filename*` (RFC 8187). */
export function dispositionFilename(name: string): string {
  const ascii = name.replace(/[^\x20-\x7E]|["\\%]/g, "_");
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `filename="${ascii}"; filename*=UTF-8''${exact}`;
}
