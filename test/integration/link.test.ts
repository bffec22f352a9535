// The XMPP link (docs/design.md §XMPP link) against a real Prosody, the gateway's component connection
// going through a TCP proxy: dropped at random moments (the handshake too), answered too late, and left
// half-open. Each time the gateway must say so on /healthz, come back online, and deliver mail.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { sendMail } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import type { Fault, TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";
import type { ChatClient, Element } from "../support/xmpp-client.ts";

const KEEPALIVE_SECONDS = 2;
const ROUNDS = 20;
const body = (m: Element) => m.getChildText("body") ?? "";

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with LINK_TEST_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("the XMPP link", () => {
  let stack: Stack;
  let proxy: TcpProxy;
  let toto: ChatClient;
  let mails = 0;

  before(async () => {
    stack = await startStack({ xmppProxy: true, gatewayEnv: { XMPP_KEEPALIVE_SECONDS: String(KEEPALIVE_SECONDS) } });
    proxy = stack.xmppProxy!;
    toto = (await stack.user("toto"))!;
  });
  after(async () => {
    await stack?.close();
  });

  const logCount = (text: string) => stack.gateway.output().split("\n").filter((l) => l.includes(text)).length;
  const linkState = async () => (await stack.gateway.health())?.body.xmpp;

  /** /healthz says online on a connection the proxy accepted after `accepted` others. */
  const backOnline = (accepted: number, what: string) => waitFor(what, async () => {
    const health = await stack.gateway.health();
    return health?.status === 200 && health.body.xmpp === "online" && proxy.counts().accepted > accepted;
  }, 60_000);

  /** Send a mail now and wait for toto to have it (at least once). */
  async function delivered(subject: string): Promise<void> {
    mails++;
    const info = await sendMail(stack.gateway.smtpPort, { from: "a@example.com", to: `toto@${MAIL_DOMAIN}`, subject, text: "x" });
    assert.match(info.response, /^250 /);
    await toto.waitForMessage((m) => body(m).startsWith(`${subject}\n`) || body(m) === subject, subject, 60_000);
  }

  it("comes online at the start, through the proxy", async () => {
    await backOnline(0, "the link online");
    await delivered("first");
  });

  it("a handshake answered after xmpp.js stopped waiting: the socket is dropped and the next attempt comes online", async () => {
    // Prosody gets the handshake 4 s late and accepts it; xmpp.js gave up after 2 s and will never
    // say online on that socket. Left as it was, the link stayed in the handshake forever.
    const { accepted } = proxy.counts();
    const lost = logCount("xmpp link lost");
    proxy.arm({ from: "client", afterText: "<handshake>", action: { delayMs: 4000 } });
    proxy.drop();
    await waitFor("the loss seen", async () => (await linkState()) !== "online" && logCount("xmpp link lost") > lost);
    await backOnline(accepted + 1, "online again on the attempt after the late one");
    assert.ok(proxy.counts().fired >= 1);
    await delivered("after a late handshake");
  });

  it(`is dropped ${ROUNDS} times in a row at random moments, the handshake too, and each time comes back and delivers`, async (t) => {
    const seed = Number(process.env.LINK_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
    t.diagnostic(`LINK_TEST_SEED=${seed}`);
    console.log(`link drops: LINK_TEST_SEED=${seed}`);
    const random = prng(seed);
    const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
    const subjects: string[] = [];
    const onlineBefore = logCount("xmpp component online");

    for (let round = 1; round <= ROUNDS; round++) {
      const { accepted, fired } = proxy.counts();
      const moment = pick(["online", "during delivery", "server bytes", "client bytes", "handshake text", "stalled handshake"] as const);
      // The faults act on the next connection: the drop of the current one makes the gateway reconnect into it.
      let fault: Fault | null = null;
      if (moment === "server bytes") fault = { from: "server", afterBytes: Math.floor(random() * 220), action: "cut" };
      if (moment === "client bytes") fault = { from: "client", afterBytes: Math.floor(random() * 260), action: "cut" };
      if (moment === "handshake text") fault = { from: "client", afterText: pick(["<handshake>", "</handshake>"]), action: "cut" };
      if (moment === "stalled handshake") fault = { from: pick(["client", "server"]), afterText: pick(["<handshake", "<stream:stream"]), action: "stall" };
      t.diagnostic(`round ${round}: ${moment}${fault ? ` ${JSON.stringify(fault)}` : ""}`);
      if (fault) proxy.arm(fault);
      if (moment === "during delivery") {
        const subject = `round ${round} in flight`;
        subjects.push(subject);
        mails++;
        await sendMail(stack.gateway.smtpPort, { from: "a@example.com", to: `toto@${MAIL_DOMAIN}`, subject, text: "x" });
      }
      await sleep(Math.floor(random() * 300));
      proxy.drop();
      if (fault) await waitFor(`round ${round}: the fault to fire`, () => proxy.counts().fired > fired, 60_000);
      await backOnline(accepted + (fault ? 1 : 0), `round ${round}: online again`);
      const subject = `round ${round}`;
      subjects.push(subject);
      await delivered(subject);
    }

    for (const subject of subjects) {
      await toto.waitForMessage((m) => body(m).startsWith(`${subject}\n`), subject, 60_000);
    }
    const ids = toto.messages.map((m) => m.attrs.id ?? "");
    const duplicates = ids.length - new Set(ids).size;
    t.diagnostic(`${toto.messages.length} messages for ${mails} mails; ${duplicates} duplicates (same stanza id)`);
    assert.ok(logCount("xmpp component online") - onlineBefore >= ROUNDS, "each drop was followed by an online");
  });

  it("metrics read the link: the online gauge, every state, and the count of times online", async () => {
    const res = await fetch(`http://127.0.0.1:${stack.gateway.httpPort}/metrics`);
    const text = await res.text();
    assert.match(text, /^passerelle_xmpp_link_state\{state="online"\} 1$/m);
    for (const state of ["connecting", "closing", "offline", "stopped"]) {
      assert.match(text, new RegExp(`^passerelle_xmpp_link_state\\{state="${state}"\\} 0$`, "m"));
    }
    assert.match(text, /^passerelle_xmpp_link_up 1$/m);
    const total = Number(/^passerelle_xmpp_link_online_total (\d+)$/m.exec(text)?.[1]);
    // The log is written asynchronously: wait for its lines to be out.
    await waitFor("one logged online a count", () => logCount("xmpp component online") === total, 5000);
    assert.ok(total > ROUNDS);
  });

  it("a half-open link (nothing forwarded, sockets left open) is noticed by the keep-alive and replaced", async () => {
    const pingLost = logCount("xmpp server stopped answering pings");
    const stuck = logCount("still connecting after");
    proxy.stall();
    // Accepted while the link is half-open: the worker may send it into the dead socket; it must come anyway.
    mails++;
    const info = await sendMail(stack.gateway.smtpPort, { from: "a@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "into a dead link", text: "x" });
    assert.match(info.response, /^250 /);
    await waitFor("the unanswered ping noticed", () => logCount("xmpp server stopped answering pings") > pingLost, 30_000);
    // New connections are stalled too: each attempt stays in its handshake until the keep-alive drops it.
    await waitFor("a stuck attempt dropped", () => logCount("still connecting after") > stuck, 30_000);
    const health = await stack.gateway.health();
    assert.equal(health?.status, 503);
    assert.notEqual(health?.body.xmpp, "online");
    const { accepted } = proxy.counts();
    proxy.restore();
    await backOnline(accepted, "online once the proxy forwards again");
    await toto.waitForMessage((m) => body(m).startsWith("into a dead link\n"), "the mail sent into the dead link", 60_000);
    await delivered("after the half-open link");
  });
});
