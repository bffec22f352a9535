// Several instances on one database and one XMPP server (docs/design.md §Several instances): all accept
// mail, one holds the link; a standby never touches the component port and is healthy; SIGKILL of the
// holder in the middle of a burst loses no 250 and another takes over; a holder whose lock session is
// terminated closes its link and another takes over. On Prosody and on ejabberd.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEjabberd } from "../support/ejabberd.ts";
import { createGateway, type Gateway } from "../support/gateway.ts";
import { checkNothingLost, tokenOf } from "../support/invariants.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";
import { startProsody } from "../support/prosody.ts";
import { buildMail, sendRaw } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, SECRET, type ServerKind } from "../support/stack.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, type ChatClient, type Element } from "../support/xmpp-client.ts";
import type { XmppServer } from "../support/xmpp-server.ts";

const INSTANCES = 3;
const BURST = 150;
/** The inbound worker's batch (src/app.ts): at most that many deliveries are in flight at a kill. */
const BATCH = 100;
const firstLine = (m: Element) => (m.getChildText("body") ?? "").split("\n")[0];

for (const kind of ["prosody", "ejabberd"] as ServerKind[]) {
  describe(`several instances on one database (${kind})`, () => {
    let server: XmppServer;
    let db: TestDatabase;
    /** Each instance reaches the component port through its own proxy, which counts its connections. */
    const proxies: TcpProxy[] = [];
    const gateways: Gateway[] = [];
    let toto: ChatClient;
    const accepted: string[] = [];

    const roleOf = async (g: Gateway) => (await g.health())?.body.role;
    /** The instance whose link is online, if exactly one says so. */
    const holder = async (among = gateways) => {
      const reports = await Promise.all(among.map((g) => g.health()));
      const online = among.filter((_, i) => reports[i]?.body.role === "link" && reports[i]?.body.xmpp === "online");
      return online.length === 1 ? online[0] : undefined;
    };

    before(async () => {
      server = await (kind === "ejabberd" ? startEjabberd : startProsody)({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET });
      db = await createTestDatabase();
      for (let i = 0; i < INSTANCES; i++) {
        const proxy = await startTcpProxy(server.componentPort);
        proxies.push(proxy);
        gateways.push(await createGateway({ databaseUrl: db.url, mailDomains: MAIL_DOMAIN, xmppService: `xmpp://127.0.0.1:${proxy.port}`,
          xmppDomain: COMPONENT_DOMAIN, xmppSecret: SECRET,
          // Short leases: the batch a killed holder had in flight comes back within seconds.
          env: { QUEUE_LEASE_SECONDS: "3", LOG_LEVEL: "info" } }));
      }
      // The first one started takes the lock; the others start as standbys.
      for (const g of gateways) await g.start();
      await server.register("toto", "secret");
      await db.query("INSERT INTO mailboxes (address, jid) VALUES ($1, $2)", [`toto@${MAIL_DOMAIN}`, `toto@${server.domain}`]);
      toto = await connectClient(server.c2sPort, server.domain, "toto", "secret");
    });
    after(async () => {
      assert.deepEqual(await checkNothingLost(db, accepted), []);
      await toto?.stop();
      for (const g of gateways) await g.stop().catch(() => undefined);
      for (const p of proxies) await p.close();
      await server?.destroy();
      await db?.drop();
    });

    it("one holds the link; the standbys are healthy (200, role standby) and never connect to the component port", async () => {
      const first = await waitFor("the first instance online", () => holder());
      assert.equal(first, gateways[0]);
      for (const g of gateways.slice(1)) {
        const health = await g.health();
        assert.equal(health?.status, 200);
        assert.equal(health?.body.role, "standby");
        assert.equal(health?.body.database, "ok");
      }
      const metrics = await (await fetch(`http://127.0.0.1:${gateways[1]!.httpPort}/metrics`)).text();
      assert.match(metrics, /passerelle_instance_role\{role="standby"\} 1/);
      assert.match(metrics, /passerelle_instance_role\{role="link"\} 0/);
      await new Promise((r) => setTimeout(r, 3000)); // two lock tries at least
      assert.deepEqual(proxies.map((p) => p.counts().accepted > 0), [true, false, false]);
      const check = await gateways[1]!.cli("check");
      assert.match(check.stdout, /✓ xmpp server .*standby: another instance holds the XMPP link/);
    });

    it("SIGKILL of the holder during a burst to all three: every 250 delivered, another takes over, duplicates within a batch", async () => {
      const killed = gateways[0]!;
      let sent = 0;
      let killedAt = 0;
      let inFlight = 0;
      const kill = (async () => {
        await waitFor("a third of the burst accepted", () => accepted.length >= BURST / 3, 60_000, 10);
        killedAt = Date.now();
        await killed.kill();
        // What the dead holder had claimed: sent again once its lease runs out.
        [{ n: inFlight }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM deliveries WHERE status = 'sending'") as [{ n: number }];
      })();
      // One sender per instance, one mail after the other, the killed one's stopping at the kill; a refused or
      // cut transaction is simply not a 250.
      await Promise.all(gateways.map(async (g) => {
        while (sent < BURST && !(killedAt && g === killed)) {
          const subject = `burst ${sent++}`;
          const r = await sendRaw(g.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`],
            buildMail({ From: "alice@example.com", To: `toto@${MAIL_DOMAIN}`, Subject: subject }, "x\r\n")).catch(() => null);
          const token = tokenOf(r?.data);
          if (token) accepted.push(token);
        }
      }));
      await kill;
      const survivors = gateways.slice(1);
      const next = await waitFor("another instance online", () => holder(survivors), 30_000, 50);
      const takeoverMs = Date.now() - killedAt;
      console.log(`[${kind}] takeover after SIGKILL of the holder: ${takeoverMs} ms; ${accepted.length} mails answered 250`);
      assert.ok(takeoverMs < 30_000);

      const subjects = new Map((await db.query<{ token: string; subject: string }>(
        "SELECT token, subject FROM messages WHERE token = ANY($1)", [accepted])).map((r) => [r.token, r.subject]));
      await waitFor("every accepted mail delivered", async () => (await db.query(`SELECT 1 FROM deliveries d JOIN messages m ON m.id = d.message_id
        WHERE m.token = ANY($1) AND d.status <> 'delivered'`, [accepted])).length === 0, 60_000, 200);
      const received = () => toto.messages.filter((m) => firstLine(m)?.startsWith("burst "));
      await waitFor("every accepted mail at the client", () => {
        const seen = new Set(received().map(firstLine));
        return [...subjects.values()].every((s) => seen.has(s));
      }, 30_000, 200);
      assert.equal(subjects.size, accepted.length);
      const ids = received().map((m) => m.attrs.id as string);
      const duplicates = ids.length - new Set(ids).size;
      console.log(`[${kind}] duplicates after the kill: ${duplicates} (${inFlight} in flight at the kill, batch ${BATCH})`);
      assert.ok(duplicates <= inFlight && inFlight <= BATCH, `${duplicates} duplicates for ${inFlight} in flight`);
      assert.equal(proxies[gateways.indexOf(next)]!.counts().accepted, 1, "the new holder connected once");

      // check beside no serve of its own: the database names the holder, and check does not connect (it would take the link).
      const before = proxies[0]!.counts().accepted;
      const check = await killed.cli("check");
      assert.match(check.stdout, /✓ xmpp server .*another instance holds the XMPP link \(database session \d+/);
      assert.equal(proxies[0]!.counts().accepted, before);

      // Back as a standby: it accepts mail and never connects while another holds the link.
      await killed.start();
      await waitFor("the restarted instance a standby", async () => (await roleOf(killed)) === "standby");
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(proxies[0]!.counts().accepted, before);
    });

    it("a holder whose lock session is terminated closes its link at once; another takes over", async () => {
      const old = await waitFor("a holder", () => holder());
      const [lock] = await db.query<{ pid: number }>(`SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
        WHERE a.application_name = 'passerelle link lock' AND a.datname = current_database() AND l.locktype = 'advisory' AND l.granted`);
      assert.ok(lock, "the lock's own session");
      const at = Date.now();
      await db.query("SELECT pg_terminate_backend($1)", [lock.pid]);
      await waitFor("the old holder standby", async () => (await roleOf(old)) === "standby", 10_000, 20);
      const closedMs = Date.now() - at;
      const next = await waitFor("another instance online", () => holder(), 30_000, 50);
      const takeoverMs = Date.now() - at;
      console.log(`[${kind}] lock session terminated: link closed after ${closedMs} ms, another online after ${takeoverMs} ms`);
      assert.notEqual(next, old);
      assert.match(old.output(), /the XMPP link lock is no longer ours: closing the link/);
      // A mail accepted by the old holder, now a standby, reaches the new holder's worker.
      const r = await sendRaw(old.smtpPort, "alice@example.com", [`toto@${MAIL_DOMAIN}`],
        buildMail({ From: "alice@example.com", To: `toto@${MAIL_DOMAIN}`, Subject: "after the switch" }, "x\r\n"));
      const token = tokenOf(r.data);
      assert.ok(token);
      accepted.push(token);
      await toto.waitForMessage((m) => firstLine(m) === "after the switch", "the mail through the new holder");
    });
  });
}

describe("a holder whose database goes silent (prosody)", () => {
  let server: XmppServer;
  let db: TestDatabase;
  let dbProxy: TcpProxy;
  const gateways: Gateway[] = [];

  before(async () => {
    server = await startProsody({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET });
    db = await createTestDatabase();
    dbProxy = await startTcpProxy(5432);
    const behindProxy = new URL(db.url);
    behindProxy.host = `127.0.0.1:${dbProxy.port}`;
    // The first reaches PostgreSQL through the proxy, so the test can silence its sessions; it takes the lock.
    for (const url of [behindProxy.toString(), db.url]) {
      const g = await createGateway({ databaseUrl: url, mailDomains: MAIL_DOMAIN, xmppService: `xmpp://127.0.0.1:${server.componentPort}`,
        xmppDomain: COMPONENT_DOMAIN, xmppSecret: SECRET });
      await g.start();
      gateways.push(g);
    }
  });
  after(async () => {
    dbProxy?.restore();
    for (const g of gateways) await g.stop().catch(() => undefined);
    await dbProxy?.close();
    await server?.destroy();
    await db?.drop();
  });

  it("its lock check goes unanswered: it closes its link; once the server drops the session another takes over", async () => {
    const [silent, standby] = gateways as [Gateway, Gateway];
    await waitFor("the first online", async () => (await silent.health())?.body.xmpp === "online");
    assert.equal((await standby.health())?.body.role, "standby");
    const at = Date.now();
    dbProxy.stall(); // nothing more reaches PostgreSQL or comes back, and no socket closes
    await waitFor("the silent holder gives the link up", () => /the XMPP link lock is no longer ours/.test(silent.output()), 10_000, 20);
    const closedMs = Date.now() - at;
    // The proxy keeps PostgreSQL's side of the socket open (it even answers keep-alives): cutting it is how
    // the server learns the session is gone, as its keep-alive would behind a real partition.
    const cutAt = Date.now();
    dbProxy.cut();
    await waitFor("the standby online", async () => (await standby.health())?.body.xmpp === "online", 30_000, 50);
    console.log(`[prosody] silent database: link given up after ${closedMs} ms; another online ${Date.now() - cutAt} ms after the server lost the session`);
    assert.ok(closedMs < 10_000);
  });
});
