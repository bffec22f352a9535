// The web page of one mail: pure functions from a mail's view to HTML, run
// in the page pool (page-pool.ts) since sanitizing the mail's HTML is reading hostile bytes.
// Two walls, each enough alone: sanitize-html keeps an allow-list of inert markup (no script, no event
// handler, no form, frame, object or remote resource), and the page's Content-Security-Policy (headers.ts)
// forbids scripts and every load but our own origin and data: images.
import sanitizeHtml from "sanitize-html";
import { attachmentPath } from "../core/links.ts";
import type { MailView } from "./view.ts";

/** Image types a browser only decodes as pixels; SVG is not one (it can carry script, CSS and links). */
export const SAFE_IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// CSS values that cannot load anything or run anything: no url(), image(), image-set(), element(),
// expression() (old IE), var()/env()/attr() (they could smuggle either in), no escapes, no at-rules.
const CSS_VALUE = /^(?![\s\S]*\b(?:url|image|image-set|element|expression|var|env|attr|src)\s*\()[-\w\s.,%#!'"()/+]*$/i;
// Layout and typography only: no `position` (mail could then draw over our header and fake the sender),
// no background shorthand or background-image (they take url()), no content, cursor, behavior.
const CSS_PROPERTIES = [
  "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight", "font-variant",
  "text-align", "text-decoration", "text-transform", "text-indent", "line-height", "letter-spacing",
  "word-spacing", "white-space", "vertical-align", "direction", "display", "visibility",
  "width", "min-width", "max-width", "height", "min-height", "max-height",
  "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
  "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
  "border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
  "border-width", "border-radius", "border-collapse", "border-spacing", "table-layout", "list-style-type",
];

const TABLE_ATTRIBUTES = ["align", "valign", "width", "height", "bgcolor", "border", "cellpadding", "cellspacing", "colspan", "rowspan"];

export interface SanitizedHtml {
  html: string;
  /** images the page does not load: remote (or any other non-inline) sources */
  blockedImages: number;
}

/**
 * Mail HTML reduced to inert markup. `cidUrl` maps a Content-ID (RFC 2392 `cid:` URL) to the same-origin
 * URL of that attachment; an image with any other source than an inline attachment or a data: URL of a
 * safe image type loses its `src` (its `alt` says it was not loaded): remote images are tracking beacons.
 */
export function sanitizeMailHtml(html: string, cidUrl: (cid: string) => string | null): SanitizedHtml {
  let blockedImages = 0;
  const clean = sanitizeHtml(html, {
    allowedTags: [
      ...sanitizeHtml.defaults.allowedTags, "img", "font", "center", "big", "strike", "tt", "del", "ins",
    ],
    // The default nonTextTags plus title (the head's text is not content). Everything not allowed is
    // dropped with its attributes: script, style, link, meta, base, form, input, button, select, iframe,
    // frame, object, embed, applet, svg, math, video, audio, source, template.
    nonTextTags: ["script", "style", "textarea", "option", "xmp", "noscript", "title", "head"],
    disallowedTagsMode: "discard",
    allowedAttributes: {
      "*": ["style", "dir", "lang", "title", "align"],
      a: ["href", "name", "target", "rel"],
      img: ["src", "alt", "width", "height"],
      font: ["color", "face", "size"],
      table: TABLE_ATTRIBUTES, td: TABLE_ATTRIBUTES, th: TABLE_ATTRIBUTES, tr: TABLE_ATTRIBUTES,
      col: ["width", "span"], colgroup: ["width", "span"], ol: ["start", "type"], li: ["value"],
    },
    allowedStyles: { "*": Object.fromEntries(CSS_PROPERTIES.map((p) => [p, [CSS_VALUE]])) },
    allowedSchemes: ["http", "https", "mailto"],
    allowedSchemesByTag: { img: ["data"] },
    allowedSchemesAppliedToAttributes: ["href", "src", "cite", "action", "formaction", "background", "poster", "ping", "data", "xlink:href"],
    allowProtocolRelative: false,
    nestingLimit: 200,
    transformTags: {
      img: (tagName, attribs) => {
        const src = (attribs.src ?? "").trim();
        const { src: _dropped, srcset: _alsoDropped, ...rest } = attribs;
        const cid = /^cid:/i.test(src) ? cidUrl(decodeCid(src.slice(4))) : null;
        if (cid) return { tagName, attribs: { ...rest, src: cid } };
        if (isSafeDataImage(src)) return { tagName, attribs: { ...rest, src } };
        if (src) blockedImages++;
        // A tracking pixel (1×1, 0×0) stays invisible: there is nothing to miss.
        if (/^[0-2](px)?$/i.test(rest.width?.trim() ?? "") || /^[0-2](px)?$/i.test(rest.height?.trim() ?? "")) {
          return { tagName, attribs: { ...rest, alt: "" } };
        }
        const alt = rest.alt?.trim();
        return { tagName, attribs: { ...rest, alt: `[image not loaded${alt ? `: ${alt}` : ""}]` } };
      },
      // Only absolute web and mail links: a relative link would point into this gateway. A new tab, and no
      // opener nor referrer (the page's URL is the secret; Referrer-Policy says the same).
      a: (tagName, attribs) => {
        const { href, ...rest } = attribs;
        const keep: Record<string, string> = href && /^(https?:|mailto:)/i.test(href.trim()) ? { href: href.trim() } : {};
        return { tagName, attribs: { ...rest, ...keep, target: "_blank", rel: "noopener noreferrer nofollow" } };
      },
    },
  });
  return { html: clean, blockedImages };
}

function decodeCid(value: string): string {
  try {
    return decodeURIComponent(value); // RFC 2392 §2: the cid URL is the Content-ID, %-encoded
  } catch {
    return value;
  }
}

function isSafeDataImage(src: string): boolean {
  const m = /^data:([a-z0-9.+/-]+)[;,]/i.exec(src);
  return m !== null && SAFE_IMAGE_TYPES.has(m[1]!.toLowerCase());
}

const STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#222;background:#fff}
header{border-bottom:1px solid #ccc;margin-bottom:1rem}h1{font-size:1.3rem;margin:.2rem 0 .6rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:0 0 .8rem}dt{color:#666}dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font:14px/1.4 ui-monospace,monospace}
.mail-html{contain:content;overflow:auto;border:1px solid #eee;padding:.5rem}
.note{color:#666;font-size:.9rem}section{margin-top:1rem}ul{padding-left:1.2rem}
`;

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

/** The page of one mail. Links to its attachments are relative to `/m/<token>`, so a PUBLIC_URL with a
 * path in front (stripped by the proxy) still works. */
export function renderMailPage(view: MailView, token: string): string {
  const href = (i: number) => `${token}/${attachmentPath(i, view.attachments[i]!.filename)}`;
  const byCid = new Map(view.attachments.map((a, i) => [a.cid, i] as const).filter(([cid]) => cid));
  const cidUrl = (cid: string) => {
    const i = byCid.get(cid);
    return i !== undefined && SAFE_IMAGE_TYPES.has(view.attachments[i]!.contentType) ? href(i) : null;
  };
  const rich = view.html.trim() ? sanitizeMailHtml(view.html, cidUrl) : null;
  const fields = ([["From", view.from], ["To", view.to], ["Cc", view.cc], ["Date", view.date], ["Spam filter", view.spam ?? ""]] as const)
    .filter(([, v]) => v).map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(v)}</dd>`).join("");
  const text = view.text.trim() ? `<pre class="mail-text">${escapeHtml(view.text)}</pre>` : "";
  const note = view.note ? `<p class="note mail-note">${escapeHtml(view.note)}</p>` : "";
  const main = note + (rich
    ? `<div class="mail-html">${rich.html}</div>` +
      (rich.blockedImages ? `<p class="note">${rich.blockedImages} remote image${rich.blockedImages > 1 ? "s" : ""} not loaded.</p>` : "") +
      (text ? `<details><summary>Plain text</summary>${text}</details>` : "")
    : text || `<p class="note">(no text)</p>`);
  const attachments = view.attachments.length === 0 ? "" : `<section><h2>Attachments</h2><ul>${view.attachments.map((a, i) =>
    `<li><a href="${escapeHtml(href(i))}">${escapeHtml(a.filename || "attachment")}</a> <span class="note">${escapeHtml(a.contentType)}, ${formatSize(a.size)}</span></li>`).join("")}</ul></section>`;
  const subject = view.subject || "(no subject)";
  return page(subject, `<header><h1>${escapeHtml(subject)}</h1><dl>${fields}</dl></header><main>${main}${attachments}</main>`);
}

/** Unknown and expired links get this same page: it says nothing about which it was. */
export function renderNotFound(): string {
  return page("Not found", `<h1>Not found</h1><p>This link is unknown or has expired.</p>`);
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
