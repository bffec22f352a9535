// Sender authentication in a worker thread: the same outcome as on the main thread, a time limit per
// authentication, a thread stuck on a crafted mail replaced (its other jobs fail, later ones work), and a
// DNS server that never answers costs the limit, not the thread. Real DNS server on loopback.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../../../src/log.ts";
import { createAuthenticator, createResolver, type AuthInput } from "../../../src/mail/auth.ts";
import { createAuthPool, type AuthPool } from "../../../src/mail/auth-pool.ts";
import { createSigner } from "../../../src/mail/dkim.ts";
import { startDnsServer, type DnsServer } from "../../support/dns-server.ts";
import { generateDkimKey, slowDkimMail } from "../../support/dns.ts";
import { buildMail } from "../../support/smtp.ts";
import { waitFor } from "../../support/wait.ts";

const log = createLogger("silent");
const key = generateDkimKey();
const LIMIT_MS = 1500;

async function signed(subject: string): Promise<Buffer> {
  const mail = buildMail({ From: "Alice <alice@example.com>", To: "toto@jabber.test", Subject: subject,
    "Message-ID": `<${subject.replace(/\W/g, "")}@test>`, Date: "Tue, 01 Dec 2026 12:00:00 +0000" }, "hello\r\n");
  return createSigner({ selector: "k1", privateKey: key.privateKey })(Buffer.from(mail), "example.com");
}
const input = (raw: Buffer, mailFrom = "alice@example.com"): AuthInput => ({ ip: "127.0.0.1", helo: "client.example", mailFrom, raw });

describe("auth pool", () => {
  let dns: DnsServer;
  const pools: AuthPool[] = [];
  const pool = (timeoutMs = 10_000, more: { idleMs?: number; retireAfterBytes?: number } = {}) => {
    const p = createAuthPool({ hostname: "mx.test", dnsServers: [dns.address], timeoutMs, memoryMb: 128, ...more }, { log });
    pools.push(p);
    return p;
  };
  before(async () => {
    dns = await startDnsServer({ "k1._domainkey.example.com": [key.txt], "example.com": ["v=spf1 ip4:127.0.0.1 -all"],
      "_dmarc.example.com": ["v=DMARC1; p=reject"] });
    dns.silent.add("silent.example");
    dns.silent.add("_dmarc.silent.example");
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await dns.close();
  });

  it("gives the outcome mailauth gives on the main thread", async () => {
    const raw = await signed("same outcome");
    const here = await createAuthenticator({ hostname: "mx.test" }, { resolver: createResolver([dns.address]) })(input(raw));
    const there = await pool().authenticate(input(raw));
    assert.deepEqual(there, here);
    assert.equal(there.facts.dmarc, "pass");
    assert.match(there.headers, /dkim=pass/);
  });

  it("runs many authentications at once in one thread", async () => {
    const p = pool();
    const outcomes = await Promise.all(Array.from({ length: 20 }, async (_, i) => p.authenticate(input(await signed(`many ${i}`)))));
    assert.ok(outcomes.every((o) => o.facts.dmarc === "pass"));
    assert.equal(p.threads(), 1);
  });

  it("answers a crafted slow mail at the limit, replaces the busy thread, and the next mail verifies", async () => {
    const p = pool(LIMIT_MS);
    await p.authenticate(input(await signed("warm")));
    const slow = slowDkimMail("alice@example.com", "toto@jabber.test", 2000, 1024 * 1024);
    const started = performance.now();
    const [crafted, bystander] = await Promise.allSettled([
      p.authenticate(input(slow)),
      // In the same thread behind it: it fails with it and is answered, not lost.
      p.authenticate(input(await signed("bystander"))),
    ]);
    const elapsed = performance.now() - started;
    assert.equal(crafted.status, "rejected");
    assert.match(String((crafted as PromiseRejectedResult).reason), /took longer than 1\.5 s/);
    assert.ok(elapsed >= LIMIT_MS - 50, `answered after ${elapsed} ms, at the limit of ${LIMIT_MS}`);
    assert.equal(bystander.status, "rejected");
    assert.match(String((bystander as PromiseRejectedResult).reason), /stopped: busy/);
    assert.equal(p.threads(), 0, "the busy thread is gone");
    const next = await p.authenticate(input(await signed("after the crafted one")));
    assert.equal(next.facts.dmarc, "pass");
    assert.equal(p.threads(), 1);
  });

  it("answers at the limit when DNS never answers, and keeps the thread (it was only waiting)", async () => {
    const p = pool(LIMIT_MS);
    await p.authenticate(input(await signed("before silence")));
    const started = performance.now();
    await assert.rejects(p.authenticate(input(await signed("silent one"), "bob@silent.example")), /took longer than 1\.5 s/);
    assert.ok(performance.now() - started >= LIMIT_MS - 50);
    assert.equal(p.threads(), 1);
    assert.equal((await p.authenticate(input(await signed("after silence")))).facts.dmarc, "pass");
  });

  it("ends a thread idle for idleMs, and one that has read a large mail once it is done; the next mail starts one", async () => {
    const idle = pool(10_000, { idleMs: 50 });
    await idle.authenticate(input(await signed("idle soon")));
    assert.equal(idle.threads(), 1);
    await waitFor("the idle thread to end", () => idle.threads() === 0, 5000, 10);
    assert.equal((await idle.authenticate(input(await signed("after idle")))).facts.dmarc, "pass");

    const big = await signed("large enough");
    const large = pool(10_000, { retireAfterBytes: big.length });
    const [first, second] = await Promise.all([large.authenticate(input(big)), large.authenticate(input(await signed("x")))]);
    assert.equal(first.facts.dmarc, "pass");
    assert.equal(second.facts.dmarc, "pass");
    await waitFor("the thread that read a large mail to end", () => large.threads() === 0, 5000, 10);
    assert.equal((await large.authenticate(input(await signed("after large")))).facts.dmarc, "pass");
  });

  it("refuses work once closed", async () => {
    const p = pool();
    await p.close();
    await assert.rejects(p.authenticate(input(await signed("closed"))), /stopping/);
  });
});
