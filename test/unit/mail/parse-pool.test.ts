// Mail parsing in worker threads: bombs are bounded in time and memory, the main event loop
// stays free, a stuck or dead worker is replaced, and a mail that cannot be read still yields a notice.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createLogger } from "../../../src/log.ts";
import { parseMail } from "../../../src/mail/parse.ts";
import { createParsePool, unreadMail, type ParsePool } from "../../../src/mail/parse-pool.ts";
import { createRawCollector } from "../../../src/mail/raw-buffer.ts";
import { bombs } from "../../support/bombs.ts";

const log = createLogger("silent");
const XML_FORBIDDEN = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Run `work` while timing the main event loop: the largest gap between 20 ms ticks. */
async function withLoopLag<T>(work: () => Promise<T>): Promise<{ result: T; maxGapMs: number; elapsedMs: number }> {
  let last = Date.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 20);
  const start = Date.now();
  try {
    const result = await work();
    return { result, maxGapMs, elapsedMs: Date.now() - start };
  } finally {
    clearInterval(timer);
  }
}

/** The chat view of the pool's one read of a mail. */
const parse = async (p: ParsePool, raw: Buffer) => (await p.read(raw)).mail;

describe("parse pool", () => {
  const pools: ParsePool[] = [];
  const pool = (timeoutMs = 10_000, memoryMb = 256) => {
    const p = createParsePool({ size: 2, timeoutMs, memoryMb }, { log });
    pools.push(p);
    return p;
  };
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it("gives the same result as parseMail for an ordinary mail", async () => {
    const raw = Buffer.from('From: "Alice" <alice@example.com>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\r\nhello\r\n');
    assert.deepEqual(await parse(pool(), raw), await parseMail(raw));
  });

  for (const [name, make] of Object.entries(bombs)) {
    it(`reads the ${name} bomb within the time limit without stalling the main thread`, async () => {
      const p = pool(3_000);
      const { result, maxGapMs, elapsedMs } = await withLoopLag(() => parse(p, make()));
      assert.ok(elapsedMs < 15_000, `bounded: ${elapsedMs} ms`);
      assert.ok(maxGapMs < 1_000, `the main event loop kept running (largest gap ${maxGapMs} ms)`);
      assert.match(result.subject, /bomb|long line/);
      assert.doesNotMatch(result.text, XML_FORBIDDEN);
      // The next mail is read normally: the pool survived.
      assert.equal((await parse(p, Buffer.from("Subject: next\r\n\r\nok"))).text.trim(), "ok");
    });
  }

  it("stops a parse past the time limit: the notice says so, and the pool goes on", async () => {
    const p = pool(500);
    const { result, elapsedMs } = await withLoopLag(() => parse(p, bombs.html()));
    assert.ok(elapsedMs < 5_000, `stopped near the limit: ${elapsedMs} ms`);
    assert.equal(result.subject, "html bomb");
    assert.match(result.text, /could not be read in full \(it took longer than 0\.5 s to decode\); the original is kept/);
    assert.equal((await parse(p, Buffer.from("Subject: after\r\n\r\nfine"))).subject, "after");
  });

  it("stops a parse past the memory limit without harming the process", async () => {
    const p = pool(20_000, 16);
    const result = await parse(p, bombs.html());
    assert.match(result.text, /could not be read in full \(it needs more memory than allowed to decode\)/);
    assert.equal((await parse(p, Buffer.from("Subject: after oom\r\n\r\nfine"))).subject, "after oom");
  });

  it("queues parses beyond the pool size and answers each one", async () => {
    const p = pool();
    const results = await Promise.all(Array.from({ length: 7 }, (_, i) => parse(p, Buffer.from(`Subject: n${i}\r\n\r\nx`))));
    assert.deepEqual(results.map((r) => r.subject), ["n0", "n1", "n2", "n3", "n4", "n5", "n6"]);
  });

  it("starts a worker with the first mail and lets it go when idle or after a large mail", async () => {
    const p = createParsePool({ size: 2, timeoutMs: 10_000, memoryMb: 256, idleMs: 300, retireAfterBytes: 100_000 }, { log });
    pools.push(p);
    assert.equal(p.threads(), 0, "nothing runs before the first mail");
    assert.equal((await parse(p, Buffer.from("Subject: one\r\n\r\nx"))).subject, "one");
    assert.equal(p.threads(), 1);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(p.threads(), 0, "the idle worker exited");
    const large = Buffer.from(`Subject: large\r\n\r\n${"y".repeat(76).concat("\r\n").repeat(2000)}`);
    assert.equal((await parse(p, large)).subject, "large");
    assert.equal(p.threads(), 0, "the worker that read a large mail exited");
    assert.equal((await parse(p, Buffer.from("Subject: after\r\n\r\nx"))).subject, "after");
  });

  it("reads a large mail from shared memory as from a copy", async () => {
    const body = `${"z".repeat(76)}\r\n`.repeat(20_000);
    const plain = Buffer.from(`Subject: shared\r\nFrom: a@example.com\r\n\r\n${body}`);
    const collector = createRawCollector(plain.length);
    for (let at = 0; at < plain.length; at += 65_536) collector.push(plain.subarray(at, at + 65_536));
    const raw = collector.finish();
    assert.ok(raw.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(await parse(pool(), raw), await parseMail(plain));
  });

  it("unreadMail keeps a one-line subject without forbidden characters, and no sender from the headers", () => {
    const parsed = unreadMail(Buffer.from("From: evil@example.com\r\nSubject: a\u0000b\u001bc\r\n\r\nx"), "why");
    assert.equal(parsed.subject, "abc");
    assert.equal(parsed.fromAddress, null);
    assert.match(parsed.text, /\(why\)/);
  });
});
