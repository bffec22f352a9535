// Faults lose nothing (docs/design.md §Invariants, 4 and 6): the XMPP server going away, the gateway killed,
// the database cut.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sendMail, sendRaw, SmtpSession } from "../support/smtp.ts";
import { MAIL_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, type ChatClient, type Element } from "../support/xmpp-client.ts";

const body = (m: Element) => m.getChildText("body") ?? "";

describe("faults lose nothing", () => {
  let stack: Stack;

  before(async () => {
    stack = await startStack();
    await stack.user("toto", { connect: false });
  });
  after(async () => {
    await stack?.close();
  });

  async function login(): Promise<ChatClient> {
    return connectClient(stack.prosody.c2sPort, stack.prosody.domain, "toto", "secret");
  }

  it("accepts mail while the XMPP server is down and delivers all of it, in order, once it is back", async () => {
    await stack.prosody.stop();
    await waitFor("health to report the link down", async () => (await stack.gateway.health())?.status === 503);
    const health = await stack.gateway.health();
    assert.equal(health?.body.xmpp, "offline");
    for (let i = 1; i <= 5; i++) {
      const info = await sendMail(stack.gateway.smtpPort, { from: "a@example.com", to: `toto@${MAIL_DOMAIN}`, subject: `while down ${i}`, text: `n=${i}` });
      assert.match(info.response, /^250 /);
    }
    await stack.prosody.start();
    await waitFor("the link back up", async () => (await stack.gateway.health())?.status === 200, 30_000);
    const toto = await login();
    try {
      const got = await waitFor("all five mails", () => {
        const list = toto.messages.filter((m) => body(m).startsWith("while down"));
        return list.length >= 5 ? list : null;
      }, 30_000);
      assert.deepEqual(got.map((m) => body(m).split("\n")[0]), [1, 2, 3, 4, 5].map((i) => `while down ${i}`));
    } finally {
      await toto.stop();
    }
  });

  it("delivers mail answered 250 before the gateway was SIGKILLed, after it restarts", async () => {
    await stack.prosody.stop();
    const info = await sendMail(stack.gateway.smtpPort, { from: "a@example.com", to: `toto@${MAIL_DOMAIN}`, subject: "before the kill", text: "x" });
    assert.match(info.response, /^250 /);
    await stack.gateway.kill();
    await stack.prosody.start();
    await stack.gateway.start();
    const toto = await login();
    try {
      await toto.waitForMessage((m) => body(m).startsWith("before the kill"), "the mail accepted before the crash", 30_000);
    } finally {
      await toto.stop();
    }
  });

  it("answers 451 4.3.0 while the database is unreachable, and accepts the retry once it is back", async () => {
    stack.dbProxy.cut();
    try {
      const r = await sendRaw(stack.gateway.smtpPort, "a@example.com", [`toto@${MAIL_DOMAIN}`], "Subject: db down\r\n\r\nx");
      assert.equal(r.rcpt[0]!.code, 451);
      assert.match(r.rcpt[0]!.text, /^4\.3\.0 /);
    } finally {
      stack.dbProxy.restore();
    }
    // The DATA stage too: RCPT succeeds, then the database goes away before the dot.
    const { session } = await SmtpSession.open(stack.gateway.smtpPort);
    await session.command("EHLO client.example");
    await session.command("MAIL FROM:<a@example.com>");
    assert.equal((await session.command(`RCPT TO:<toto@${MAIL_DOMAIN}>`)).code, 250);
    stack.dbProxy.cut();
    const data = await session.data("Subject: db down during data\r\n\r\nx").finally(() => stack.dbProxy.restore());
    session.close();
    assert.equal(data.code, 451);
    assert.match(data.text, /^4\.3\.0 /);
    const stored = await stack.db.query("SELECT 1 FROM messages WHERE subject = 'db down during data'");
    assert.equal(stored.length, 0, "no 250, no row");

    const retry = await waitFor("the database back", async () => {
      const r = await sendRaw(stack.gateway.smtpPort, "a@example.com", [`toto@${MAIL_DOMAIN}`], "Subject: db back\r\n\r\nx");
      return r.data?.code === 250 ? r : null;
    }, 20_000, 500);
    assert.equal(retry.data!.code, 250);
    const toto = await login();
    try {
      await toto.waitForMessage((m) => body(m).startsWith("db back"), "the retried mail");
    } finally {
      await toto.stop();
    }
  });

  it("stops on SIGTERM, exit 0, and refuses connections afterwards", async () => {
    const code = await stack.gateway.stop();
    assert.equal(code, 0, stack.gateway.output().slice(-2000));
    await assert.rejects(SmtpSession.open(stack.gateway.smtpPort));
    await stack.gateway.start();
  });
});
