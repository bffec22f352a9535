// The mail page: what sanitize-html keeps and drops, inline images, and the page around it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, renderMailPage, renderNotFound, sanitizeMailHtml } from "../../../src/web/page.ts";
import { attachmentHeaders, dispositionFilename, PAGE_HEADERS } from "../../../src/web/headers.ts";
import type { MailView } from "../../../src/web/view.ts";

const none = () => null;
const clean = (html: string) => sanitizeMailHtml(html, none).html;
const TOKEN = "t".repeat(43);

function view(over: Partial<MailView> = {}): MailView {
  return {
    subject: "Hello", from: "Alice <alice@example.com>", to: "toto@jabber.test", cc: "", date: "Tue, 1 Dec 2026 10:00:00 +0100",
    text: "Plain words", html: "", attachments: [], ...over,
  };
}

describe("sanitizeMailHtml", () => {
  it("removes scripts with their content, and every event handler", () => {
    const out = clean(`<p onclick="x()">a</p><script>alert(1)</script><img src="data:image/png;base64,AA" onerror="alert(2)"><svg onload="y()"><script>z()</script></svg><body onload="w()">b</body>`);
    assert.doesNotMatch(out, /script|alert|onclick|onerror|onload|svg|\bx\(|\by\(|\bz\(|\bw\(/i);
    assert.match(out, /<p>a<\/p>/);
    assert.match(out, /b/);
  });

  it("drops forms, frames, objects, embeds, media, style sheets, base and meta refresh", () => {
    const out = clean(`<form action="https://evil.example/"><input name="password"><button formaction="https://evil.example/">Send</button></form>
      <iframe src="https://evil.example/"></iframe><frameset><frame src="https://evil.example/"></frameset><object data="https://evil.example/x"></object>
      <embed src="https://evil.example/x"><video src="https://evil.example/v" poster="https://evil.example/p"></video><audio src="https://evil.example/a"></audio>
      <link rel="stylesheet" href="https://evil.example/s.css"><style>p{background:url(https://evil.example/bg)}</style>
      <base href="https://evil.example/"><meta http-equiv="refresh" content="0;url=https://evil.example/">`);
    assert.doesNotMatch(out, /evil|<form|<input|<button|<iframe|<frame|<object|<embed|<video|<audio|<link|<style|<base|<meta/i);
    assert.match(out, /Send/, "a dropped tag's text stays");
  });

  it("loads no remote image: the src goes, the alt says it was not loaded, and they are counted", () => {
    const result = sanitizeMailHtml(`<img src="https://tracker.example/p.gif" alt="Logo"><img src="//tracker.example/p"><img src="/relative.png"><img srcset="https://tracker.example/a 1x"><img src="data:image/svg+xml;base64,PHN2Zz4=">`, none);
    assert.doesNotMatch(result.html, /tracker|relative|srcset|svg/);
    assert.match(result.html, /alt="\[image not loaded: Logo\]"/);
    assert.equal(result.blockedImages, 4);
    const pixel = sanitizeMailHtml(`<img src="https://tracker.example/open?id=1" width="1" height="1" alt="">`, none);
    assert.equal(pixel.html, `<img width="1" height="1" alt="" />`, "a tracking pixel stays invisible");
    assert.equal(pixel.blockedImages, 1);
  });

  it("rewrites cid: images to the attachment's same-origin URL and keeps data: images of safe types", () => {
    const result = sanitizeMailHtml(`<img src="cid:logo@example.com" alt="logo"><img src="cid:missing@x"><img src="data:image/png;base64,iVBORw0KGgo=">`,
      (cid) => cid === "logo@example.com" ? `${TOKEN}/a/0/logo.png` : null);
    assert.match(result.html, new RegExp(`<img alt="logo" src="${TOKEN}/a/0/logo.png" />`));
    assert.match(result.html, /<img src="data:image\/png;base64,iVBORw0KGgo=" \/>/);
    assert.equal(result.blockedImages, 1, "an unknown cid is not loaded either");
  });

  it("keeps absolute web and mail links, opening in a new tab without opener or referrer; drops the others", () => {
    const out = clean(`<a href="https://example.org/a?b=1&amp;c=2">ok</a><a href="mailto:a@example.org">m</a><a href="javascript:alert(1)">js</a><a href="/metrics">rel</a><a href="data:text/html,x">d</a>`);
    assert.match(out, /<a href="https:\/\/example.org\/a\?b=1&amp;c=2" target="_blank" rel="noopener noreferrer nofollow">ok<\/a>/);
    assert.match(out, /href="mailto:a@example.org"/);
    assert.doesNotMatch(out, /javascript|metrics|data:/);
  });

  it("keeps layout CSS but not position, url(), expression() or background images", () => {
    const out = clean(`<p style="color:#333;font-size:14px;position:fixed;top:0;background:url(https://evil.example/x);background-image:url(x);width:expression(alert(1));margin:0 auto">a</p><table background="https://evil.example/t.png" bgcolor="#eee" cellpadding="4"><tr><td style="border:1px solid #ccc;background-color:rgb(1,2,3)">c</td></tr></table>`);
    assert.match(out, /<p style="color:#333;font-size:14px;margin:0 auto">a<\/p>/);
    assert.match(out, /<table bgcolor="#eee" cellpadding="4">/);
    assert.match(out, /style="border:1px solid #ccc;background-color:rgb\(1,2,3\)"/);
    assert.doesNotMatch(out, /position|evil|expression|url/);
  });

  it("drops the head's title and text outside the body's markup is kept as text", () => {
    assert.equal(clean(`<html><head><title>Secret title</title></head><body><p>x</p></body></html>`), "<p>x</p>");
  });
});

describe("renderMailPage", () => {
  it("shows the headers and the text, all escaped", () => {
    const page = renderMailPage(view({ subject: "<b>Hi</b> & bye", from: `"Eve <script>" <eve@example.com>`, cc: "bob@example.org", text: "1 < 2\n</pre><script>x()</script>" }), TOKEN);
    assert.match(page, /<title>&#60;b&#62;Hi&#60;\/b&#62; &#38; bye<\/title>/);
    assert.match(page, /<h1>&#60;b&#62;Hi&#60;\/b&#62; &#38; bye<\/h1>/);
    assert.match(page, /<dt>From<\/dt><dd>&#34;Eve &#60;script&#62;&#34; &#60;eve@example.com&#62;<\/dd>/);
    assert.match(page, /<dt>Cc<\/dt><dd>bob@example.org<\/dd>/);
    assert.match(page, /<dt>Date<\/dt>/);
    assert.match(page, /<pre class="mail-text">1 &#60; 2\n&#60;\/pre&#62;&#60;script&#62;x\(\)&#60;\/script&#62;<\/pre>/);
    assert.doesNotMatch(page, /<script/);
    assert.doesNotMatch(page, /<dt>To<\/dt><dd><\/dd>/);
  });

  it("shows the sanitised HTML first with the plain text folded away, and says how many images were not loaded", () => {
    const page = renderMailPage(view({ html: `<p>Rich <b>words</b></p><img src="https://tracker.example/p.gif"><script>x()</script>` }), TOKEN);
    assert.match(page, /<div class="mail-html"><p>Rich <b>words<\/b><\/p><img alt="\[image not loaded\]" \/><\/div>/);
    assert.match(page, /1 remote image not loaded\./);
    assert.match(page, /<details><summary>Plain text<\/summary><pre class="mail-text">Plain words<\/pre><\/details>/);
    assert.doesNotMatch(page, /tracker|<script/);
  });

  it("lists the attachments with relative links, and shows inline images of safe types only", () => {
    const page = renderMailPage(view({
      html: `<img src="cid:logo"><img src="cid:drawing">`,
      attachments: [
        { filename: "logo.png", contentType: "image/png", size: 2048, cid: "logo" },
        { filename: "drawing.svg", contentType: "image/svg+xml", size: 10, cid: "drawing" },
        { filename: "Compte rendu été.pdf", contentType: "application/pdf", size: 3 * 1024 * 1024, cid: null },
        { filename: null, contentType: "text/html", size: 5, cid: null },
      ],
    }), TOKEN);
    assert.match(page, new RegExp(`<img src="${TOKEN}/a/0/logo.png" />`));
    assert.doesNotMatch(page, /<img src="[^"]*drawing/, "an SVG is never loaded as an image from our origin");
    assert.match(page, new RegExp(`<a href="${TOKEN}/a/2/Compte%20rendu%20%C3%A9t%C3%A9.pdf">Compte rendu été.pdf</a> <span class="note">application/pdf, 3.0 MiB</span>`));
    assert.match(page, new RegExp(`<a href="${TOKEN}/a/3/attachment">attachment</a>`));
    assert.match(page, /logo.png<\/a> <span class="note">image\/png, 2.0 KiB/);
  });

  it("says (no subject) and (no text) for an empty mail", () => {
    const page = renderMailPage(view({ subject: "", text: "  " }), TOKEN);
    assert.match(page, /<h1>\(no subject\)<\/h1>/);
    assert.match(page, /\(no text\)/);
  });
});

describe("headers", () => {
  it("the page's CSP forbids scripts, remote loads, framing, base and forms", () => {
    const csp = PAGE_HEADERS["content-security-policy"]!;
    assert.match(csp, /^default-src 'none'; /);
    assert.match(csp, /img-src 'self' data:;/);
    assert.doesNotMatch(csp, /script-src|unsafe-eval|https?:/);
    for (const d of ["frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) assert.ok(csp.includes(d), d);
    assert.equal(PAGE_HEADERS["x-content-type-options"], "nosniff");
    assert.equal(PAGE_HEADERS["referrer-policy"], "no-referrer");
    assert.match(PAGE_HEADERS["cache-control"]!, /^private/);
  });

  it("serves safe images inline as themselves and everything else as a download of octet-stream", () => {
    const png = attachmentHeaders("image/png", "a.png");
    assert.equal(png["content-type"], "image/png");
    assert.match(png["content-disposition"]!, /^inline; filename="a.png"/);
    for (const type of ["text/html", "image/svg+xml", "application/pdf", "application/xhtml+xml", "text/plain", "message/rfc822"]) {
      const h = attachmentHeaders(type, "x");
      assert.equal(h["content-type"], "application/octet-stream", type);
      assert.match(h["content-disposition"]!, /^attachment; /, type);
      assert.equal(h["x-content-type-options"], "nosniff");
      assert.match(h["content-security-policy"]!, /sandbox/);
    }
  });

  it("writes the file name as RFC 6266 ASCII fallback and RFC 8187 exact form", () => {
    assert.equal(dispositionFilename(`été "x"\\%.pdf`), `filename="_t_ _x___.pdf"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22%5C%25.pdf`);
    assert.equal(dispositionFilename("it's (1)*.txt"), `filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`);
  });
});

describe("renderNotFound and escapeHtml", () => {
  it("the not-found page names nothing", () => {
    assert.match(renderNotFound(), /unknown or has expired/);
  });
  it("escapes the five HTML specials", () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});
