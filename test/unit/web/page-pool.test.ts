// Web pages built in the page pool: the page of a mail's parts, and past the time limit a plain answer
// instead, the pool still working after it.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../../src/log.ts";
import { createPagePool, type PagePool } from "../../../src/web/page-pool.ts";
import type { PageSource } from "../../../src/web/view.ts";

const view = { subject: "Hello", from: "alice@example.com", to: "", cc: "", date: "", attachments: [] };
const html = (markup: string): PageSource => ({ token: "tok", view,
  texts: [{ part: { contentType: "text/html", charset: "utf-8", encoding: "quoted-printable" }, body: new Uint8Array(Buffer.from(markup)) }] });

describe("page pool", () => {
  const pools: PagePool[] = [];
  const pool = (timeoutMs: number) => {
    const p = createPagePool({ size: 1, timeoutMs, memoryMb: 128 }, { log: createLogger("silent") });
    pools.push(p);
    return p;
  };
  after(async () => { await Promise.all(pools.map((p) => p.close())); });

  it("builds the page from the part's bytes: decoded, sanitized", async () => {
    const built = await pool(10_000).build(html("<p>caf=C3=A9 <script>alert(1)</script><b onclick=3D\"x()\">bold</b></p>"));
    assert.ok("html" in built);
    assert.match(built.html, /<h1>Hello<\/h1>/);
    assert.match(built.html, /<p>café <b>bold<\/b><\/p>/);
    assert.doesNotMatch(built.html, /script|onclick/);
  });

  it("stops a build past its time limit with the reason, and builds the next page", async () => {
    const p = pool(1500);
    const deep = html(`${"<div>".repeat(150_000)}x${"</div>".repeat(150_000)}`);
    assert.deepEqual(await p.build(deep), { failed: "it took longer than 1.5 s to decode" });
    const next = await p.build(html("<p>next</p>"));
    assert.ok("html" in next && next.html.includes("<p>next</p>"));
  });
});
