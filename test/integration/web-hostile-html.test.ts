// A mail whose HTML takes the sanitizer far past its limit (htmlparser2 and sanitize-html are quadratic in
// nesting depth: 150k nested <div>s are about a megabyte and tens of seconds of work). Its page is built in
// the page pool, stopped at PAGE_TIMEOUT_MS and shown as the mail's text with a note; SMTP sessions go on at
// their normal pace meanwhile; the page is kept, so a second request builds nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sendRaw } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const PUBLIC_URL = "https://mail.example.test";
/** The page pool's limit for this test; the gateway's default is 5000 (README, Configuration). */
const PAGE_TIMEOUT_MS = 3000;
const DEPTH = 150_000;
const body = (m: Element) => m.getChildText("body") ?? "";

/** multipart/alternative: a short text part, and the deep HTML in lines of a thousand characters. */
function deepMail(subject: string): string {
  const html = `<html><body>${"<div>".repeat(DEPTH)}deep${"</div>".repeat(DEPTH)}</body></html>`;
  const lines = html.match(/[\s\S]{1,1000}/g)!.join("\r\n");
  return ["From: alice@example.com", `To: toto@${MAIL_DOMAIN}`, `Subject: ${subject}`, "MIME-Version: 1.0",
    'Content-Type: multipart/alternative; boundary="alt"', "", "--alt", "Content-Type: text/plain; charset=utf-8", "",
    "The plain words of a deep mail.", "--alt", "Content-Type: text/html; charset=utf-8", "", lines, "--alt--", ""].join("\r\n");
}

describe("a page whose HTML takes the sanitizer past its limit", () => {
  let stack: Stack;
  let toto: ChatClient;
  const http = (path: string) => `http://127.0.0.1:${stack.gateway.httpPort}${path}`;
  const pagesBuilt = async () => {
    const text = await (await fetch(http("/metrics"))).text();
    const count = (outcome: string) => Number(new RegExp(`^passerelle_web_pages_built_total\\{outcome="${outcome}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { built: count("built"), plain: count("plain") };
  };
  const transaction = async (n: number) => {
    const sent = await sendRaw(stack.gateway.smtpPort, "bob@example.com", [`toto@${MAIL_DOMAIN}`],
      `From: bob@example.com\r\nSubject: steady ${n}\r\n\r\nmail ${n} of a steady stream\r\n`);
    assert.equal(sent.data?.code, 250, `transaction ${n}`);
  };

  before(async () => {
    stack = await startStack({ gatewayEnv: { PUBLIC_URL, PAGE_TIMEOUT_MS: String(PAGE_TIMEOUT_MS) } });
    toto = (await stack.user("toto"))!;
  });
  after(async () => stack?.close());

  it("answers within the limit as plain text while SMTP goes on, and serves the kept page the second time", async () => {
    const sent = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], deepMail("Deep HTML"));
    assert.equal(sent.data?.code, 250);
    await toto.waitForMessage((m) => body(m).includes("Deep HTML"), "the deep mail's chat message");
    const [row] = await stack.db.query<{ web_token: string }>("SELECT web_token FROM messages WHERE subject = 'Deep HTML'");
    await transaction(0); // the first session of a client is held before its greeting (SMTP_GREET_PASS_SECONDS)
    assert.deepEqual(await pagesBuilt(), { built: 0, plain: 0 });

    // A steady stream of SMTP transactions, one after the other, for as long as the page takes.
    let building = true;
    const roundTrips: number[] = [];
    const stream = (async () => {
      for (let n = 1; building; n++) {
        const start = performance.now();
        await transaction(n);
        roundTrips.push(performance.now() - start);
      }
    })();
    const start = performance.now();
    const first = await fetch(http(`/m/${row!.web_token}`));
    const pageMs = performance.now() - start;
    building = false;
    await stream;

    assert.equal(first.status, 200);
    const page = await first.text();
    assert.match(page, /could not be shown within the gateway&#39;s limits \(it took longer than 3 s to decode\); here is its text/);
    assert.match(page, /The plain words of a deep mail\./);
    assert.doesNotMatch(page, /<div><div>/, "none of the HTML is on the page");
    // Answered once the limit stopped the build, not when the sanitizer would have finished.
    assert.ok(pageMs < 2 * PAGE_TIMEOUT_MS, `the page took ${Math.round(pageMs)} ms for a ${PAGE_TIMEOUT_MS} ms limit`);
    assert.deepEqual(await pagesBuilt(), { built: 0, plain: 1 });
    // The sanitizer ran for the whole limit; no SMTP transaction waited anything like that.
    assert.ok(roundTrips.length >= 3, `transactions ran during the build: ${roundTrips.length}`);
    const longest = Math.max(...roundTrips);
    assert.ok(longest < PAGE_TIMEOUT_MS / 3, `the longest SMTP transaction took ${Math.round(longest)} ms while the sanitizer ran ${PAGE_TIMEOUT_MS} ms`);

    const second = await fetch(http(`/m/${row!.web_token}`));
    assert.equal(second.status, 200);
    assert.equal(await second.text(), page, "the same page");
    assert.deepEqual(await pagesBuilt(), { built: 0, plain: 1 }, "served from the stored page: nothing was built again");
    const [stored] = await stack.db.query<{ page: string }>("SELECT page FROM messages WHERE web_token = $1", [row!.web_token]);
    assert.equal(stored!.page, page);
  });
});
