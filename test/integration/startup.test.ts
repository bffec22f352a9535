// Starting up: wrong component secret or domain stop with words an admin can act on; the embedded
// database works with the CLI and psql-compatible clients while serve runs.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createGateway } from "../support/gateway.ts";
import { startProsody, type Prosody } from "../support/prosody.ts";
import { sendMail } from "../support/smtp.ts";
import { COMPONENT_DOMAIN, contactJid, MAIL_DOMAIN, SECRET } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient } from "../support/xmpp-client.ts";

describe("start-up and the embedded database", () => {
  let prosody: Prosody;
  let dataDir: string;

  before(async () => {
    prosody = await startProsody({ componentDomain: COMPONENT_DOMAIN, componentSecret: SECRET });
    await prosody.register("toto", "secret");
    dataDir = mkdtempSync(join(tmpdir(), "passerelle-embedded-"));
  });
  after(async () => {
    await prosody?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const gatewayWith = (over: { secret?: string; domain?: string }) => createGateway({
    dataDir,
    mailDomains: MAIL_DOMAIN,
    xmppService: `xmpp://127.0.0.1:${prosody.componentPort}`,
    xmppDomain: over.domain ?? COMPONENT_DOMAIN,
    xmppSecret: over.secret ?? SECRET,
  });

  it("a wrong component secret stops start-up with a message about the secret", async () => {
    const gw = await gatewayWith({ secret: "not-the-secret" });
    await assert.rejects(gw.start(), /exited \(code 1\) during start/);
    assert.match(gw.output(), /refused the component secret.*XMPP_SECRET/);
  });

  it("an unknown component domain stops start-up with a message about the domain", async () => {
    const gw = await gatewayWith({ domain: "nope.localhost" });
    await assert.rejects(gw.start(), /exited \(code 1\) during start/);
    assert.match(gw.output(), /does not know the component domain nope\.localhost/);
  });

  it("a missing configuration names every problem and exits 1", async () => {
    const bare = await (await createGateway({ dataDir, mailDomains: "", xmppService: "nope", xmppDomain: "", xmppSecret: "" })).cli("serve");
    assert.equal(bare.code, 1);
    assert.match(bare.stderr, /MAIL_DOMAINS/);
    assert.match(bare.stderr, /XMPP_DOMAIN/);
    assert.match(bare.stderr, /XMPP_SECRET/);
    assert.match(bare.stderr, /XMPP_SERVICE/);
  });

  it("with no DATABASE_URL, serves the embedded database to the CLI and to Postgres clients while running", async () => {
    const gw = await gatewayWith({});
    await gw.start();
    try {
      const add = await gw.cli("mailbox", "add", `toto@${MAIL_DOMAIN}`, "toto@localhost");
      assert.equal(add.code, 0, add.stderr);
      const pgClient = new pg.Client({ host: dataDir, user: "postgres", database: "postgres" });
      await pgClient.connect();
      const { rows } = await pgClient.query("SELECT address, jid, enabled FROM mailboxes");
      await pgClient.end();
      assert.deepEqual(rows, [{ address: `toto@${MAIL_DOMAIN}`, jid: "toto@localhost", enabled: true }]);
      const toto = await connectClient(prosody.c2sPort, prosody.domain, "toto", "secret");
      try {
        await sendMail(gw.smtpPort, { from: "alice@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "embedded", text: "works" });
        const m = await toto.waitForMessage((s) => (s.getChildText("body") ?? "").startsWith("embedded"), "mail through the embedded database");
        assert.equal(m.attrs.from, contactJid("alice@example.com"));
      } finally {
        await toto.stop();
      }
      const list = await gw.cli("mailbox", "list");
      assert.match(list.stdout, /toto@jabber\.test\ttoto@localhost\tenabled/);
    } finally {
      assert.equal(await gw.stop(), 0);
    }
    // Serve is gone: the CLI opens the files itself.
    const gw2 = await gatewayWith({});
    const list = await gw2.cli("mailbox", "list");
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /toto@jabber\.test/);
  });

  it("starts while the XMPP server is down, says it is waiting, and connects once the server is up", async () => {
    await prosody.stop();
    const gw = await createGateway({
      dataDir: mkdtempSync(join(tmpdir(), "passerelle-waiting-")), mailDomains: MAIL_DOMAIN,
      xmppService: `xmpp://127.0.0.1:${prosody.componentPort}`, xmppDomain: COMPONENT_DOMAIN, xmppSecret: SECRET,
    });
    try {
      await gw.start();
      assert.match(gw.output(), /waiting for the XMPP server/);
      assert.equal((await gw.health())?.status, 503);
      await prosody.start();
      await waitFor("the link to come up", async () => (await gw.health())?.status === 200, 20_000);
    } finally {
      await prosody.start().catch(() => undefined);
      assert.equal(await gw.stop(), 0);
    }
  });

  it("usage errors exit 2 and every command has --help", async () => {
    const gw = await gatewayWith({});
    for (const cmd of ["serve", "migrate", "mailbox", "queue", "check"]) {
      const r = await gw.cli(cmd, "--help");
      assert.equal(r.code, 0, cmd);
      assert.match(r.stdout, /usage: passerelle/);
    }
    assert.equal((await gw.cli("frobnicate")).code, 2);
    assert.equal((await gw.cli("mailbox", "add", "only-one-arg")).code, 2);
    assert.equal((await gw.cli("mailbox", "add", "x@elsewhere.org", "toto@localhost")).code, 2);
  });
});
