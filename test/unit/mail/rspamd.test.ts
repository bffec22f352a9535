// rspamd's HTTP protocol from our side, against a loopback HTTP server standing in for it: the request
// it gets, and every way an answer can go wrong (late, huge, not JSON, refused, over the budget).
import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createRspamd, readVerdict } from "../../../src/mail/rspamd.ts";

describe("createRspamd", () => {
  let server: Server;
  let base = "";
  let handle: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void = () => undefined;
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => handle(req, Buffer.concat(chunks), res));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => { server.closeAllConnections(); server.close(); });
  const rspamd = (over: Partial<Parameters<typeof createRspamd>[0]> = {}) =>
    createRspamd({ url: base, controllerUrl: base, password: null, timeoutMs: 500, maxConcurrent: 4, ...over });
  const input = { raw: Buffer.from("Subject: x\r\n\r\nhi\r\n"), mailFrom: "a@example.com", ip: "192.0.2.1", helo: "mx\r\nEvil: 1",
    recipients: ["t@jabber.test", "u@jabber.test"], queueId: "q1" };

  it("posts the mail to /checkv2 with the envelope in headers, and reads the verdict", async () => {
    let seen: { url?: string; headers?: IncomingMessage["headers"]; body?: string } = {};
    handle = (req, body, res) => {
      seen = { url: req.url, headers: req.headers, body: body.toString() };
      res.end(JSON.stringify({ action: "add header", score: 6.123, required_score: 15, symbols: { LOW: { score: 0.1 }, HIGH: { score: 6 } } }));
    };
    const result = await rspamd().check(input);
    assert.deepEqual(result, { kind: "verdict", verdict: { action: "add header", score: 6.12, required: 15, symbols: ["HIGH", "LOW"] } });
    assert.equal(seen.url, "/checkv2");
    assert.equal(seen.body, input.raw.toString());
    assert.equal(seen.headers?.from, "a@example.com");
    assert.equal(seen.headers?.ip, "192.0.2.1");
    assert.equal(seen.headers?.helo, "mx??Evil: 1", "no header injection through HELO");
    assert.equal(seen.headers?.rcpt, "t@jabber.test, u@jabber.test");
    assert.equal(seen.headers?.["queue-id"], "q1");
  });

  it("no answer within the time limit, a huge answer, not JSON, an HTTP error, nobody listening: unavailable", async () => {
    handle = () => undefined; // never answers
    assert.deepEqual(await rspamd().check(input), { kind: "unavailable", why: "no answer within 500 ms" });
    handle = (_q, _b, res) => res.end("x".repeat(2 * 1024 * 1024));
    assert.match((await rspamd().check(input) as { why: string }).why, /^answer over/);
    handle = (_q, _b, res) => res.end("<html>");
    assert.deepEqual(await rspamd().check(input), { kind: "unavailable", why: "HTTP 200, not JSON" });
    handle = (_q, _b, res) => { res.statusCode = 500; res.end("{}"); };
    assert.deepEqual(await rspamd().check(input), { kind: "unavailable", why: "HTTP 500" });
    const down = await rspamd({ url: "http://127.0.0.1:1" }).check(input);
    assert.equal(down.kind, "unavailable");
    assert.match((down as { why: string }).why, /^unreachable/);
  });

  it("past the budget a check is not made; the budget comes back when checks end", async () => {
    const waiting: ServerResponse[] = [];
    handle = (_q, _b, res) => waiting.push(res);
    const client = rspamd({ maxConcurrent: 2, timeoutMs: 5000 });
    const first = [client.check(input), client.check(input)];
    assert.deepEqual(await client.check(input), { kind: "unavailable", why: "busy (2 checks in flight)" });
    while (waiting.length < 2) await new Promise((r) => setTimeout(r, 10));
    for (const res of waiting) res.end(JSON.stringify({ action: "no action", score: 0 }));
    await Promise.all(first);
    assert.equal(client.inFlight(), 0);
  });

  it("learns through the controller, with its password; says what went wrong", async () => {
    let password: unknown;
    handle = (req, _b, res) => { password = req.headers.password; res.end(req.url === "/learnspam" ? '{"success":true}' : "{}"); };
    assert.equal(await rspamd({ password: "pw" }).learnSpam(Buffer.from("x")), "learned");
    assert.equal(password, "pw");
    handle = (_q, _b, res) => { res.statusCode = 208; res.end('{"error":"already learned"}'); };
    assert.equal(await rspamd().learnSpam(Buffer.from("x")), "already learned");
    assert.equal(await rspamd({ controllerUrl: null }).learnSpam(Buffer.from("x")), null);
  });
});

describe("readVerdict", () => {
  it("takes only what has the expected shape", () => {
    assert.deepEqual(readVerdict(null), { action: null, score: null, required: null, symbols: [] });
    assert.deepEqual(readVerdict({ action: 3, score: "9", symbols: { "A<b>": { score: 1 }, "": {} } }),
      { action: null, score: null, required: null, symbols: ["Ab"] });
  });
});
