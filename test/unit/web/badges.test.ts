// GET /presence/<id> (src/web/badges.ts): one 404 for every id that is not a live badge, reads bounded in flight.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { createBadgeRoutes } from "../../../src/web/badges.ts";
import type { Logger } from "../../../src/log.ts";

interface Answer { status: number; headers: Record<string, string>; body: string }
function response(): { res: ServerResponse; done: Promise<Answer> } {
  let resolve!: (a: Answer) => void;
  const done = new Promise<Answer>((r) => { resolve = r; });
  const answer: Answer = { status: 0, headers: {}, body: "" };
  const res = {
    writeHead(status: number, headers: Record<string, string> = {}) { answer.status = status; answer.headers = headers; return this; },
    end(body?: string) { answer.body = body ?? ""; resolve(answer); return this; },
  } as unknown as ServerResponse;
  return { res, done };
}
const log = { warn: () => undefined } as unknown as Logger;
const ID = "0123456789abcdefghjkmnpqrs";
const live = { status: "away" as const, message: "lunch", since: new Date("2026-12-02T10:00:00Z"), showMessage: false };

describe("badge routes", () => {
  it("answers a live badge in each form, and the message only when allowed", async () => {
    const route = createBadgeRoutes({ publicUrl: "https://mail.example/" }, { byId: async (id) => id === ID ? live : undefined, log });
    const get = async (path: string, lang?: string) => { const r = response(); route(path, lang, r.res); return r.done; };
    assert.deepEqual(JSON.parse((await get(`/presence/${ID}.json`)).body), { status: "away", message: null, since: "2026-12-02T10:00:00.000Z" });
    const svg = await get(`/presence/${ID}`, "fr");
    assert.equal(svg.headers["content-type"], "image/svg+xml");
    assert.match(svg.body, /Absent/);
    assert.equal((await get(`/presence/${ID}.txt`)).body, "Away\n");
    assert.match((await get(`/presence/${ID}.html`)).body, /^<img src="https:\/\/mail\.example\/presence\/0123456789abcdefghjkmnpqrs\.svg"/);
  });
  it("gives the same 404 for an unknown, a malformed and an unsupported path", async () => {
    const route = createBadgeRoutes({ publicUrl: "https://mail.example" }, { byId: async () => undefined, log });
    const answers = [];
    for (const path of [`/presence/${ID}.svg`, "/presence/../../etc/passwd", `/presence/${ID}.png`, "/presence/", `/presence/${ID.toUpperCase()}`]) {
      const r = response();
      route(path, undefined, r.res);
      answers.push(await r.done);
    }
    for (const a of answers) assert.deepEqual(a, answers[0]);
    assert.equal(answers[0]!.status, 404);
  });
  it("refuses reads past the budget in flight with 503 and Retry-After, then serves again", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const route = createBadgeRoutes({ publicUrl: "https://mail.example", maxConcurrent: 2 }, { byId: async () => { await gate; return live; }, log });
    const held = [response(), response()];
    for (const r of held) route(`/presence/${ID}.txt`, undefined, r.res);
    const over = response();
    route(`/presence/${ID}.txt`, undefined, over.res);
    assert.equal((await over.done).status, 503);
    assert.equal((await over.done).headers["retry-after"], "5");
    release();
    for (const r of held) assert.equal((await r.done).status, 200);
    const after = response();
    route(`/presence/${ID}.txt`, undefined, after.res);
    assert.equal((await after.done).status, 200);
  });
});
