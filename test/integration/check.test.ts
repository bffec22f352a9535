// `passerelle check` (docs/design.md §Contract, Commands): validate the configuration, reach the database, the XMPP server and
// the relay, say what is wrong in words, exit 1 if anything is — and never kick a running serve's component.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SMTPServer } from "smtp-server";
import { generateDkimKey } from "../support/dns.ts";
import { createGateway, type Gateway } from "../support/gateway.ts";
import { freePort } from "../support/ports.ts";
import { createTestDatabase, type TestDatabase } from "../support/postgres.ts";
import { startProsody, type Prosody } from "../support/prosody.ts";
import { COMPONENT_DOMAIN, MAIL_DOMAIN, SECRET } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";

/** The ✓/✗ line for one part, e.g. line(out, "database"). */
const line = (stdout: string, what: string) => stdout.split("\n").find((l) => new RegExp(`^[✓✗] ${what}\\b`).test(l));

describe("passerelle check", () => {
  let prosody: Prosody;
  let db: TestDatabase;
  let sink: SMTPServer;
  let sinkPort: number;
  let sinkConnections = 0;

  before(async () => {
    prosody = await startProsody({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET });
    db = await createTestDatabase();
    // A real relay on loopback: plain SMTP, no TLS, AUTH optional.
    sink = new SMTPServer({
      authOptional: true, disabledCommands: ["STARTTLS"], logger: false,
      onConnect: (_session, callback) => { sinkConnections++; callback(); },
    });
    sink.on("error", () => undefined); // a client's socket error inside a transaction, which smtp-server emits here
    await new Promise<void>((resolve, reject) => {
      sink.server.once("error", reject);
      sink.listen(0, "127.0.0.1", () => resolve());
    });
    sinkPort = (sink.server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => sink ? sink.close(() => resolve()) : resolve());
    await prosody?.destroy();
    await db?.drop();
  });

  const gatewayWith = (env: Record<string, string> = {}): Promise<Gateway> => createGateway({
    databaseUrl: db.url,
    mailDomains: MAIL_DOMAIN,
    xmppService: `xmpp://127.0.0.1:${prosody.componentPort}`,
    xmppDomain: COMPONENT_DOMAIN,
    xmppSecret: SECRET,
    env,
  });

  it("everything right, serve not running: exit 0 and a ✓ for each part", async () => {
    const gw = await gatewayWith();
    const r = await gw.cli("check");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^✗/m);
    assert.match(line(r.stdout, "configuration") ?? "", /^✓ configuration: mail for jabber\.test$/);
    assert.match(line(r.stdout, "database") ?? "", /^✓ database: /);
    assert.match(line(r.stdout, "xmpp server") ?? "",
      new RegExp(`^✓ xmpp server \\(xmpp://127\\.0\\.0\\.1:${prosody.componentPort} as ${COMPONENT_DOMAIN.replace(".", "\\.")}\\): connected and authenticated$`));
    assert.match(line(r.stdout, "smtp relay") ?? "", /^✓ smtp relay: SMTP_RELAY not set/);
    assert.match(line(r.stdout, "database")!, new RegExp(db.name));
  });

  it("with DKIM set: says what TXT record to publish for each mail domain, derived from the key", async () => {
    const key = generateDkimKey();
    const gw = await gatewayWith({ DKIM_SELECTOR: "s2026", DKIM_PRIVATE_KEY: key.privateKey });
    const r = await gw.cli("check");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(line(r.stdout, "dkim") ?? "", /^✓ dkim: outgoing mail is signed/);
    assert.ok(r.stdout.includes(`s2026._domainkey.${MAIL_DOMAIN}. IN TXT "${key.txt}"`), r.stdout);
  });

  it("shows where the database is without its password", async () => {
    // Trust authentication ignores the password, so this URL works and its password must not be printed.
    const url = new URL(db.url);
    url.password = "hunter2-secret";
    const r = await (await gatewayWith({ DATABASE_URL: url.toString() })).cli("check");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(line(r.stdout, "database") ?? "", /^✓ database: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\//);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2-secret/);
  });

  it("says when the database is reachable but not migrated, and stops saying it after migrate", async () => {
    const gw = await gatewayWith();
    const before = await gw.cli("check");
    assert.match(line(before.stdout, "database") ?? "", /^✓ database: .*not migrated yet: run passerelle migrate/);
    const migrate = await gw.cli("migrate");
    assert.equal(migrate.code, 0, migrate.stderr);
    const afterMigrate = await gw.cli("check");
    assert.equal(afterMigrate.code, 0, afterMigrate.stdout);
    assert.doesNotMatch(line(afterMigrate.stdout, "database") ?? "", /not migrated/);
  });

  it("a wrong XMPP_SECRET: exit 1, the xmpp line names XMPP_SECRET, the other parts are still checked", async () => {
    const gw = await gatewayWith({ XMPP_SECRET: "not-the-secret" });
    const r = await gw.cli("check");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(line(r.stdout, "xmpp server") ?? "", /^✗ xmpp server .*XMPP_SECRET/);
    assert.match(line(r.stdout, "database") ?? "", /^✓ database/);
    assert.match(line(r.stdout, "smtp relay") ?? "", /^✓ smtp relay/);
  });

  it("an unreachable database: exit 1 and a ✗ database line that says so", async () => {
    const closed = await freePort();
    const gw = await gatewayWith({ DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/nothing_here` });
    const started = Date.now();
    const r = await gw.cli("check");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(line(r.stdout, "database") ?? "", /^✗ database: cannot reach it: .*ECONNREFUSED/);
    assert.match(line(r.stdout, "xmpp server") ?? "", /^✓ xmpp server/, "the xmpp part is checked all the same");
    assert.ok(Date.now() - started < 15_000, "check gives up within its timeouts");
  });

  it("SMTP_RELAY at a real SMTP server: ✓; at a closed port: ✗ and exit 1", async () => {
    const seen = sinkConnections;
    const good = await (await gatewayWith({ SMTP_RELAY: `smtp://127.0.0.1:${sinkPort}` })).cli("check");
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.equal(line(good.stdout, "smtp relay"), `✓ smtp relay: 127.0.0.1:${sinkPort} answers`);
    assert.ok(sinkConnections > seen, "check really talked to the relay");

    const closed = await freePort();
    const bad = await (await gatewayWith({ SMTP_RELAY: `smtp://127.0.0.1:${closed}` })).cli("check");
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(line(bad.stdout, "smtp relay") ?? "", new RegExp(`^✗ smtp relay: 127\\.0\\.0\\.1:${closed}: .*ECONNREFUSED`));
    assert.match(line(bad.stdout, "xmpp server") ?? "", /^✓ xmpp server/);
  });

  it("a malformed variable: exit 1, naming it, before reaching anything", async () => {
    const gw = await gatewayWith({ SMTP_LISTEN: "nope", SMTP_MAX_SIZE: "-5" });
    const r = await gw.cli("check");
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^✗ configuration/m);
    assert.match(r.stdout, /SMTP_LISTEN: expected host:port, got "nope"/);
    assert.match(r.stdout, /SMTP_MAX_SIZE/, "every problem is named, not just the first");
    assert.equal(line(r.stdout, "database"), undefined, "nothing is reached with a broken configuration");
  });

  it("while serve runs: reports the link from /healthz without kicking the live component", async () => {
    const gw = await gatewayWith();
    await gw.start();
    try {
      await waitFor("serve's link online", async () => (await gw.health())?.body.xmpp === "online");
      const onlineLogs = () => gw.output().split("\n").filter((l) => l.includes('"xmpp component online"')).length;
      const before = onlineLogs();

      const r = await gw.cli("check");
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(line(r.stdout, "xmpp server") ?? "", /^✓ xmpp server .*: serve is running; its link is online$/);
      assert.match(line(r.stdout, "database") ?? "", /^✓ database/);
      // A second component session would have replaced serve's (component_conflict_resolve = kick_old):
      // serve would log the loss and come online again.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const health = await gw.health();
      assert.equal(health?.status, 200);
      assert.equal(health?.body.xmpp, "online");
      assert.doesNotMatch(gw.output(), /xmpp link lost/);
      assert.equal(onlineLogs(), before, "serve's component session was not replaced");

      // With the XMPP server gone, check reports serve's link as it is: offline, exit 1.
      await prosody.stop();
      try {
        await waitFor("serve's link offline", async () => (await gw.health())?.body.xmpp === "offline");
        const down = await gw.cli("check");
        assert.equal(down.code, 1, down.stdout + down.stderr);
        assert.match(line(down.stdout, "xmpp server") ?? "", /^✗ xmpp server .*: serve is running; its link is offline$/);
      } finally {
        await prosody.start();
      }
    } finally {
      assert.equal(await gw.stop(), 0, gw.output().slice(-2000));
    }
  });
});
