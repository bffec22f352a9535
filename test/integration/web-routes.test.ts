// The /m/ routes on the real HTTP server, with the store and the page builder replaced: turns, failures, paths.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createHttpServer } from "../../src/ops/http.ts";
import { createWebPages, type WebDeps } from "../../src/web/routes.ts";
import type { WebMail } from "../../src/web/mail-page.ts";
import type { MimePart } from "../../src/mail/mime-parts.ts";
import { waitFor } from "../support/wait.ts";

const TOKEN = "T".repeat(43);
const BROKEN = "B".repeat(43);
const HUGE = "H".repeat(43);
const PNG = Buffer.from("89504e470d0a1a0a", "hex");
const PART: MimePart = { path: "2", start: 0, end: PNG.length, contentType: "image/png", charset: null, encoding: "binary",
  filename: "p.png", disposition: "inline", cid: null, size: PNG.length, attachment: 0, verdict: { forward: true } };
const MAIL: WebMail = { id: 1, page: null, parts: null, subject: "S", fromName: null, fromAddress: "a@example.com", body: "t",
  attachments: [{ filename: "p.png", contentType: "image/png", size: PNG.length }] };

describe("the /m/ routes", () => {
  let port = 0;
  let close: () => Promise<void>;
  let inFlight = 0;
  let mostInFlight = 0;
  const queries: string[] = [];
  const warnings: string[] = [];
  const gates: (() => void)[] = [];
  /** Each read waits until the test lets it finish: the number in flight at once is then observable. */
  const held = async <T>(value: T): Promise<T> => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    await new Promise<void>((resolve) => gates.push(resolve));
    inFlight--;
    return value;
  };

  const deps: WebDeps = {
    async byToken(token, linkDays) {
      queries.push(`${token.slice(0, 3)}:${linkDays}`);
      if (token === BROKEN) throw new Error("database unreachable");
      return token === TOKEN || token === HUGE ? { ...MAIL, id: token === HUGE ? 2 : 1 } : undefined;
    },
    // The store answers null for what is over its size bound (web/mail-page.ts): 413.
    page: (mail) => held(mail.id === 2 ? null : "<!doctype html><p>page</p>"),
    attachment: (mail, index) => held(mail.id === 2 ? null : index === 0 ? { part: PART, content: PNG } : undefined),
    log: { warn: (_obj: unknown, msg?: string) => { warnings.push(String(msg)); } } as WebDeps["log"],
  };

  before(async () => {
    const server = createHttpServer({ listen: { host: "127.0.0.1", port: 0 }, maxConnections: 100, headersTimeoutMs: 10_000,
      clients: { trustedProxies: [], ratePerMinute: 0, maxInFlight: 100, maxConnections: 100 } }, {
      health: async () => ({ ok: true }),
      web: createWebPages({ linkDays: 30, maxConcurrent: 2, maxWaiting: 3 }, deps),
    });
    port = (await server.listen()).port;
    close = server.close;
  });
  after(async () => close?.());

  const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
  it("reads at most maxConcurrent mails at once; the others wait their turn, past maxWaiting they get 503", async () => {
    const paths = [`/m/${TOKEN}`, ...Array.from({ length: 5 }, () => `/m/${TOKEN}/a/0/p.png`)];
    const done: { status: number; type: string | null; body: Buffer }[] = [];
    const all = Promise.all(paths.map(async (p) => {
      const res = await get(p);
      done.push({ status: res.status, type: res.headers.get("content-type"), body: Buffer.from(await res.arrayBuffer()) });
    }));
    // Nothing is let through before all six are in: two parsing, three waiting, the sixth turned away.
    await waitFor("two parses held and one request refused", () => gates.length === 2 && done.length === 1);
    assert.equal(done[0]!.status, 503);
    assert.equal(done[0]!.type, "text/plain; charset=utf-8");
    while (done.length < paths.length) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await all;
    assert.equal(mostInFlight, 2);
    assert.deepEqual(done.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 503]);
    for (const r of done.filter((x) => x.status === 200)) {
      assert.ok(r.type === "text/html; charset=utf-8" || (r.type === "image/png" && r.body.equals(PNG)), String(r.type));
    }
    assert.deepEqual(new Set(queries), new Set(["TTT:30"]), "the lifetime reaches the store");
  });

  it("answers 404 without asking the store for paths that cannot hold a token", async () => {
    queries.length = 0;
    for (const p of ["/m/", "/m/short", `/m/${TOKEN}x`, `/m/${TOKEN}/`, `/m/${TOKEN}/a/`, `/m/${TOKEN}/a/x/y`, `/m/${"*".repeat(43)}`]) {
      const res = await get(p);
      assert.equal(res.status, 404, p);
      assert.match(await res.text(), /unknown or has expired/);
    }
    assert.deepEqual(queries, []);
  });

  it("answers 503 with Retry-After when the store fails, and logs it without the token", async () => {
    const res = await get(`/m/${BROKEN}`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "30");
    assert.deepEqual(warnings, ["could not show a mail on the web"]);
  });

  it("answers 413 for a page or an attachment over the size bound, 404 for an attachment that is not there", async () => {
    for (const path of [`/m/${HUGE}`, `/m/${HUGE}/a/0/p.png`, `/m/${TOKEN}/a/1/x`]) {
      const res = get(path);
      await waitFor("the read to be held", () => gates.length === 1);
      gates.shift()!();
      const answer = await res;
      assert.equal(answer.status, path.endsWith("/a/1/x") ? 404 : 413, path);
      assert.match(await answer.text(), path.endsWith("/a/1/x") ? /unknown or has expired/ : /too large/);
    }
  });

  it("leaves /healthz alone", async () => {
    assert.equal((await get("/healthz")).status, 200);
  });
});
