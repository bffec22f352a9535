// Full mail on the web: the real gateway serves GET /m/<token> and its attachments, and a real
// browser (Debian's Chromium driven by playwright-core) shows the page without running or loading
// anything the mail brings.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { sendRaw } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { CHROMIUM, PNG, richMail, startRemoteSite, type RemoteSite } from "../support/web.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const PUBLIC_URL = "https://mail.example.test";
const body = (m: Element) => m.getChildText("body") ?? "";

describe("the full mail on the web", () => {
  let stack: Stack;
  let toto: ChatClient;
  let remote: RemoteSite;
  let browser: Browser;
  const local = (url: string) => url.replace(PUBLIC_URL, `http://127.0.0.1:${stack.gateway.httpPort}`);

  /** Send `raw` to toto, wait for its chat message, and return it with the mail's web token. */
  async function deliver(subject: string, raw: string): Promise<{ message: Element; token: string }> {
    const sent = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], raw);
    assert.equal(sent.data?.code, 250);
    const message = await toto.waitForMessage((m) => body(m).includes(subject), `the chat message "${subject}"`);
    const [row] = await stack.db.query<{ web_token: string }>("SELECT web_token FROM messages WHERE subject = $1", [subject]);
    return { message, token: row!.web_token };
  }

  before(async () => {
    remote = await startRemoteSite();
    stack = await startStack({ gatewayEnv: { PUBLIC_URL: `${PUBLIC_URL}/`, WEB_LINK_DAYS: "30", CHAT_MAX_BYTES: "2048" } });
    toto = (await stack.user("toto"))!;
    // playwright-core launches Chromium with --no-sandbox unless chromiumSandbox is set: the tests run as
    // root, where Chromium's sandbox refuses to start. The page's own defences are what is tested here.
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });
  after(async () => {
    await browser?.close();
    await stack?.close();
    await remote?.close();
  });

  it("links a cut mail's chat message to its page, which shows the headers and the whole text", async () => {
    const text = Array.from({ length: 120 }, (_, i) => `Paragraph ${i}: the quarterly numbers, line by line.`).join("\n\n");
    const { message, token } = await deliver("Quarterly report", [
      "From: Alice Example <alice@example.com>", `To: toto@${MAIL_DOMAIN}`, "Cc: bob@example.org",
      "Subject: Quarterly report", "Date: Tue, 1 Dec 2026 10:00:00 +0100", "Content-Type: text/plain; charset=utf-8", "", text, "",
    ].join("\r\n"));
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const url = `${PUBLIC_URL}/m/${token}`;
    assert.ok(body(message).endsWith(`[not shown here: the rest of the text; full mail below]\n${url}`), body(message).slice(-200));

    const res = await fetch(local(url));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("content-security-policy"),
      "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    assert.match(res.headers.get("cache-control") ?? "", /^private/);
    const page = await res.text();
    assert.match(page, /<h1>Quarterly report<\/h1>/);
    assert.match(page, /<dt>From<\/dt><dd>&#34;Alice Example&#34; &#60;alice@example.com&#62;<\/dd>/);
    assert.match(page, /<dt>Cc<\/dt><dd>bob@example.org<\/dd>/);
    assert.match(page, /<dt>Date<\/dt><dd>Tue, 1 Dec 2026 10:00:00 \+0100<\/dd>/);
    assert.ok(page.includes("Paragraph 119: the quarterly numbers, line by line."), "the part the chat message left out");
  });

  it("serves inline images as images, every other attachment as a download, by index", async () => {
    const { token } = await deliver("With files", richMail(
      { From: "alice@example.com", To: `toto@${MAIL_DOMAIN}`, Subject: "With files" },
      "See the logo.", `<p>See the <img src="cid:logo@example.com" alt="logo"> logo.</p>`,
      [{ type: "image/png", body: PNG, filename: "logo.png", cid: "logo@example.com" }],
      [{ type: "application/pdf", body: "%PDF-1.4 tiny", filename: "notes.pdf" },
        { type: "text/html", body: "<script>alert(1)</script>", filename: "evil.html" },
        { type: "image/svg+xml", body: "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", filename: "drawing.svg" }],
    ));
    const base = `http://127.0.0.1:${stack.gateway.httpPort}/m/${token}`;
    const page = await (await fetch(base)).text();
    assert.ok(page.includes(`<img alt="logo" src="${token}/a/0/logo.png" />`), "the cid: image points at its attachment");
    for (const [i, name] of ["logo.png", "notes.pdf", "evil.html", "drawing.svg"].entries()) {
      assert.ok(page.includes(`<a href="${token}/a/${i}/${name}">${name}</a>`), name);
    }

    const png = await fetch(`${base}/a/0/logo.png`);
    assert.equal(png.status, 200);
    assert.equal(png.headers.get("content-type"), "image/png");
    assert.equal(png.headers.get("content-disposition"), `inline; filename="logo.png"; filename*=UTF-8''logo.png`);
    assert.deepEqual(Buffer.from(await png.arrayBuffer()), PNG);
    for (const [i, name] of [[1, "notes.pdf"], [2, "evil.html"], [3, "drawing.svg"]] as const) {
      const res = await fetch(`${base}/a/${i}/whatever-name`);
      assert.equal(res.status, 200, name);
      assert.equal(res.headers.get("content-type"), "application/octet-stream", name);
      assert.equal(res.headers.get("content-disposition"), `attachment; filename="${name}"; filename*=UTF-8''${name}`);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("content-security-policy"), "default-src 'none'; sandbox");
    }
    assert.equal((await fetch(`${base}/a/4/none`)).status, 404, "no fifth attachment");
  });

  it("reads a mail stored without a structure (before structures were kept) once in the pool, then by byte range", async () => {
    const { token } = await deliver("Stored before", richMail(
      { From: "alice@example.com", To: `toto@${MAIL_DOMAIN}`, Subject: "Stored before" }, "plain words", "<p>html words</p>", [],
      [{ type: "application/pdf", body: "%PDF-1.4 older", filename: "old.pdf" }],
    ));
    await stack.db.query("UPDATE messages SET parts = NULL, page = NULL WHERE web_token = $1", [token]);
    const base = `http://127.0.0.1:${stack.gateway.httpPort}/m/${token}`;
    const pdf = await fetch(`${base}/a/0/old.pdf`);
    assert.equal(pdf.status, 200);
    assert.equal(await pdf.text(), "%PDF-1.4 older");
    const [row] = await stack.db.query<{ parts: { parts: { attachment?: number; filename: string | null }[] } | null }>(
      "SELECT parts FROM messages WHERE web_token = $1", [token]);
    assert.equal(row!.parts?.parts.find((p) => p.attachment === 0)?.filename, "old.pdf", "the structure is stored again");
    assert.match(await (await fetch(base)).text(), /<p>html words<\/p>/);
  });

  it("answers an unknown, a malformed and an expired token alike; a longer WEB_LINK_DAYS brings an old link back", async () => {
    const { token } = await deliver("Old news", `From: alice@example.com\r\nSubject: Old news\r\n\r\nyesterday's\r\n`);
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${stack.gateway.httpPort}${path}`);
      return { status: res.status, type: res.headers.get("content-type"), csp: res.headers.get("content-security-policy"), text: await res.text() };
    };
    assert.equal((await get(`/m/${token}`)).status, 200);
    const unknown = await get(`/m/${randomBytes(32).toString("base64url")}`);
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /unknown or has expired/);
    assert.deepEqual(await get(`/m/${token.slice(0, 20)}`), unknown, "malformed");
    assert.deepEqual(await get(`/m/${token}/x`), unknown, "unknown sub-path");

    await stack.db.query("UPDATE messages SET received_at = now() - interval '31 days' WHERE web_token = $1", [token]);
    assert.deepEqual(await get(`/m/${token}`), unknown, "expired: the same answer as unknown");
    assert.deepEqual(await get(`/m/${token}/a/0/x`), unknown);

    await stack.gateway.stop();
    // RETENTION_DAYS may not be shorter than a link's life (config.ts): the mail must still be there.
    Object.assign(stack.gateway.env, { WEB_LINK_DAYS: "60", RETENTION_DAYS: "60" });
    await stack.gateway.start();
    assert.equal((await get(`/m/${token}`)).status, 200, "the lifetime is computed at serve time");
    Object.assign(stack.gateway.env, { WEB_LINK_DAYS: "30", RETENTION_DAYS: "30" });
  });

  it("gives every inbound mail its own random token; the HTTP health and metrics stay as they were", async () => {
    const rows = await stack.db.query<{ web_token: string }>("SELECT web_token FROM messages WHERE direction = 'inbound'");
    assert.ok(rows.length >= 3);
    assert.equal(new Set(rows.map((r) => r.web_token)).size, rows.length);
    assert.equal((await fetch(`http://127.0.0.1:${stack.gateway.httpPort}/metrics`)).status, 200);
    assert.equal((await stack.gateway.health())?.status, 200);
  });

  describe("in a real browser", () => {
    const hostile = (origin: string) => `<html><head><title>mail title</title>
<script>document.title = "pwned"; fetch("${origin}/script");</script>
<link rel="stylesheet" href="${origin}/stylesheet">
<style>body { background: url(${origin}/style-background) }</style>
<meta http-equiv="refresh" content="0;url=${origin}/refresh"><base href="${origin}/base/"></head>
<body onload="document.title = 'pwned'; new Image().src = '${origin}/body-onload'">
<p>Rich hello from the mail</p>
<img src="${origin}/pixel.png" alt="tracker" width="1" height="1">
<img src="missing.png" onerror="document.title = 'pwned'; new Image().src = '${origin}/onerror'">
<img src="cid:logo@example.com" alt="logo">
<div style="background-image: url(${origin}/inline-background)">background</div>
<iframe src="${origin}/iframe"></iframe><object data="${origin}/object"></object><embed src="${origin}/embed">
<video poster="${origin}/poster" src="${origin}/video"></video>
<svg><image href="${origin}/svg-image"/><script>document.title = "pwned"</script></svg>
<form action="${origin}/form"><input name="q" value="x"></form>
<a href="javascript:document.title='pwned'">a javascript link</a>
</body></html>`;

    it("renders the subject and the text, loads the inline image, fetches nothing remote and runs no script", async () => {
      const subject = "Browser check";
      const { token } = await deliver(subject, richMail(
        { From: "Mallory <mallory@example.net>", To: `toto@${MAIL_DOMAIN}`, Subject: subject },
        "Plain hello from the mail", hostile(remote.origin),
        [{ type: "image/png", body: PNG, filename: "logo.png", cid: "logo@example.com" }], [],
      ));
      const context = await browser.newContext();
      const page = await context.newPage();
      const res = await page.goto(`http://127.0.0.1:${stack.gateway.httpPort}/m/${token}`, { waitUntil: "load" });
      assert.equal(res?.status(), 200);

      assert.equal(await page.title(), subject, "no script changed the title");
      assert.equal(await page.locator("h1").innerText(), subject);
      assert.ok(await page.getByText("Rich hello from the mail").isVisible(), "the HTML part is shown");
      await page.locator("summary").click();
      assert.ok(await page.getByText("Plain hello from the mail").isVisible(), "the text part is there too");
      const logo = page.locator('img[alt="logo"]');
      assert.ok(await logo.evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete && img.naturalWidth === 1),
        "the cid: image loaded from our own origin");
      await page.getByText("a javascript link").click();
      assert.equal(await page.title(), subject, "a javascript: link is inert");
      assert.equal(await page.locator("script, iframe, object, embed, form, video, link, base, meta[http-equiv]").count(), 0);

      // The sanitiser removed all of it; the Content-Security-Policy must stop the same things on its own.
      // Markup added to the live DOM (page.evaluate is the test's, the elements are the page's) is held to it.
      const injected = await page.evaluate((origin: string) => {
        type El = { src: string; textContent: string; onload: (() => void) | null; onerror: (() => void) | null };
        const d = (globalThis as unknown as { document: {
          body: { insertAdjacentHTML(p: string, h: string): void; append(e: unknown): void };
          head: { append(e: unknown): void }; createElement(t: string): El } }).document;
        d.body.insertAdjacentHTML("beforeend", `<img src="x" onerror="document.title='pwned'"><iframe src="${origin}/csp-iframe"></iframe>` +
          `<link rel="stylesheet" href="${origin}/csp-css"><div style="background:url(${origin}/csp-bg)">x</div>`);
        const s = d.createElement("script");
        s.textContent = "document.title = 'pwned'";
        d.head.append(s);
        // Resolves when the browser is done with this image: "error" when the policy refused it.
        return new Promise<string>((resolve) => {
          const img = d.createElement("img");
          img.onload = () => resolve("load");
          img.onerror = () => resolve("error");
          img.src = `${origin}/csp-img`;
          d.body.append(img);
        });
      }, remote.origin);
      assert.equal(injected, "error", "the policy refused the remote image");

      // A control: the same browser does reach the remote site when it is asked to, so zero means blocked.
      const control = await context.newPage();
      await control.goto(`${remote.origin}/control`);
      assert.ok(remote.requests.includes("/control"), "the control request arrived");
      assert.deepEqual(remote.requests.filter((r) => r !== "/control" && r !== "/favicon.ico"), [],
        "nothing of the mail reached the remote site");
      assert.equal(await page.title(), subject, "no script ran, the injected ones neither");
      await context.close();
    });

    it("downloads an HTML attachment instead of showing it", async () => {
      const { token } = await deliver("Attached page", richMail(
        { From: "alice@example.com", To: `toto@${MAIL_DOMAIN}`, Subject: "Attached page" }, "see attachment", "<p>see attachment</p>", [],
        [{ type: "text/html", body: `<title>inline</title><script>fetch("${remote.origin}/attachment-script")</script><img src="${remote.origin}/attachment-img">`, filename: "page.html" }],
      ));
      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.goto(`http://127.0.0.1:${stack.gateway.httpPort}/m/${token}/a/0/page.html`).catch(() => null),
      ]);
      assert.equal(download.suggestedFilename(), "page.html");
      await context.close();
      assert.ok(!remote.requests.some((r) => r.startsWith("/attachment")), "nothing in the attachment ran or loaded");
    });
  });
});
