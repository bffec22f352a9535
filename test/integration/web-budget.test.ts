// The budgets of web clients on the real gateway (docs/design.md §Budgets, Web clients): a flood from one
// client gets 429 while another is served, a client that stops reading holds only its own share, a header
// sent a byte at a time is cut at the deadline, a peer past its connections is closed while others connect.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { sendRaw } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";

const PUBLIC_URL = "https://mail.example.test";
const BIG = 16 * 1024 * 1024; // several times what loopback's socket buffers take in: a reader that stops keeps the answer waiting

/** A raw HTTP/1.1 connection from `localAddress`; what it received so far, and whether it was closed. */
async function open(port: number, localAddress = "127.0.0.1") {
  const socket: Socket = connect({ port, host: "127.0.0.1", localAddress });
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let received = "";
  let closed = false;
  socket.setEncoding("latin1");
  socket.on("data", (d: string) => { if (received.length < 4096) received += d; });
  socket.on("error", () => undefined);
  socket.on("close", () => { closed = true; });
  return { socket, received: () => received, closed: () => closed };
}

const request = (path: string, forwardedFor?: string) =>
  `GET ${path} HTTP/1.1\r\nHost: mail.example.test\r\n${forwardedFor ? `X-Forwarded-For: ${forwardedFor}\r\n` : ""}\r\n`;

describe("web clients' budgets", () => {
  let stack: Stack;
  let base: string;
  let token: string;
  const get = (path: string, forwardedFor?: string) =>
    fetch(`${base}${path}`, { headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} });

  before(async () => {
    stack = await startStack({ gatewayEnv: { PUBLIC_URL, HTTP_RATE_PER_MINUTE: "40", HTTP_CLIENT_CONCURRENT: "2",
      HTTP_CONNECTIONS_PER_CLIENT: "3", HTTP_HEADERS_TIMEOUT_MS: "3000", HTTP_TRUSTED_PROXIES: "127.0.0.1" } });
    await stack.user("toto");
    base = `http://127.0.0.1:${stack.gateway.httpPort}`;
    const file = Buffer.alloc(BIG, 7).toString("base64").replace(/.{76}/g, "$&\r\n");
    const sent = await sendRaw(stack.gateway.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`], [
      "From: alice@example.com", `To: toto@${MAIL_DOMAIN}`, "Subject: the big file", "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b"', "", "--b", "Content-Type: text/plain", "", "here it is", "--b",
      'Content-Type: application/octet-stream; name="big.bin"', "Content-Transfer-Encoding: base64",
      'Content-Disposition: attachment; filename="big.bin"', "", file, "--b--", "",
    ].join("\r\n"));
    assert.equal(sent.data?.code, 250, sent.data?.text);
    const [row] = await waitFor("the mail stored", async () => await stack.db.query<{ web_token: string }>(
      "SELECT web_token FROM messages WHERE subject = 'the big file'"));
    token = row!.web_token;
  });
  after(async () => {
    await stack?.close();
  });

  it("answers a flood from one client 429 with Retry-After, while another client and /healthz are served", async () => {
    const badge = "/presence/00000000000000000000000000";
    const flood: { status: number; retry: string | null; text: string }[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await get(badge, "203.0.113.1");
      flood.push({ status: r.status, retry: r.headers.get("retry-after"), text: await r.text() });
    }
    const statuses = flood.map((r) => r.status);
    // A quarter of HTTP_RATE_PER_MINUTE at once (an unknown badge: 404), then one each 1.5 s.
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(404), statuses.join(","));
    const refused = flood.filter((r) => r.status === 429);
    assert.ok(refused.length >= 5, statuses.join(","));
    assert.ok(refused.every((r) => r.retry === "2" && /Too many requests/.test(r.text)), JSON.stringify(refused[0]));
    assert.equal((await get(badge, "203.0.113.2")).status, 404, "another client is served");
    assert.equal((await get("/healthz", "203.0.113.1")).status, 200, "the health check has no client budget");
    // What the client wrote itself (left of the proxy's hop) is not believed: the proxy's right-most hop counts.
    assert.equal((await get(badge, "203.0.113.2, 203.0.113.1")).status, 429);
    assert.equal((await get(badge, "203.0.113.1, 203.0.113.3")).status, 404);
  });

  it("a client that stops reading holds only its own share; others are answered, and its turn comes back when it goes", async () => {
    const attachment = `/m/${token}/a/0/big.bin`;
    const slow = await Promise.all([0, 1].map(async () => {
      const c = await open(stack.gateway.httpPort);
      c.socket.once("data", () => c.socket.pause()); // reads nothing past the first piece: the rest waits in the gateway
      c.socket.write(request(attachment, "203.0.113.7"));
      return c;
    }));
    // Both are being answered (their headers came), and neither can finish.
    await waitFor("both answers started", () => slow.every((c) => c.received().startsWith("HTTP/1.1 200")), 15_000);
    const third = await get(`/m/${token}`, "203.0.113.7");
    assert.equal(third.status, 429);
    assert.match(await third.text(), /already has requests being answered/);
    const other = await get(`/m/${token}`, "203.0.113.8");
    assert.equal(other.status, 200, "another client reads the page");
    await other.text();
    for (const c of slow) c.socket.destroy();
    const back = await waitFor("the slow client's turn back", async () => {
      const r = await get(`/m/${token}`, "203.0.113.7");
      await r.arrayBuffer();
      return r.status === 200;
    }, 15_000, 200);
    assert.ok(back);
  });

  it("cuts a header sent a byte at a time at HTTP_HEADERS_TIMEOUT_MS with 408, and serves others meanwhile", async () => {
    const c = await open(stack.gateway.httpPort);
    const text = request(`/m/${token}`);
    let i = 0;
    const drip = setInterval(() => { if (!c.closed() && i < text.length) c.socket.write(text[i++]!); }, 250);
    try {
      assert.equal((await get("/healthz")).status, 200);
      await waitFor("the slow header cut", () => c.closed(), 9000);
      assert.match(c.received(), /^HTTP\/1\.1 408/);
      assert.ok(i < text.length, `cut before the header was complete (${i} of ${text.length} bytes)`);
    } finally {
      clearInterval(drip);
      c.socket.destroy();
    }
  });

  it("closes a peer's connection past HTTP_CONNECTIONS_PER_CLIENT at once; another peer connects, and a closed one frees a place", async () => {
    // 127.0.0.5 and .6 are not trusted proxies (HTTP_TRUSTED_PROXIES=127.0.0.1): each is a peer of its own.
    const held = await Promise.all([0, 1, 2].map(() => open(stack.gateway.httpPort, "127.0.0.5")));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(held.every((c) => !c.closed()), "three are held");
    const fourth = await open(stack.gateway.httpPort, "127.0.0.5");
    await waitFor("the fourth closed", () => fourth.closed(), 5000);
    assert.equal(fourth.received(), "");
    const elsewhere = await open(stack.gateway.httpPort, "127.0.0.6");
    elsewhere.socket.write(request("/healthz"));
    await waitFor("another peer answered", () => elsewhere.received().startsWith("HTTP/1.1 200"), 5000);
    elsewhere.socket.destroy();
    held[0]!.socket.destroy();
    const again = await waitFor("a place again for 127.0.0.5", async () => {
      const c = await open(stack.gateway.httpPort, "127.0.0.5");
      c.socket.write(request("/healthz"));
      const answered = await waitFor("an answer or a close", () => c.received() || (c.closed() ? "closed" : ""), 5000);
      c.socket.destroy();
      return answered.startsWith("HTTP/1.1 200") ? answered : null;
    }, 10_000, 200);
    assert.ok(again);
    for (const c of held) c.socket.destroy();
  });
});
