// docs/design.md §Budgets, outgoing mail: a user who shares one large file many times at once. The sending
// limit is checked before any file is fetched, one user's fetches run a few at a time, and the gateway's
// memory stays bounded; another user's mail goes through meanwhile, and nothing accepted is lost.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { startRelaySink, type RelaySink } from "../support/relay.ts";
import { contactJid, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const OOB = "jabber:x:oob";
const STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const FILE_BYTES = 4 * 1024 * 1024;
const SHARES = 64;
const LIMIT = 10;
const PER_USER = 2;
/** Stated bound on the gateway's resident memory growth during the flood. Without the budgets the gateway
 * fetched the 64 files at once and held each several times over (file, composed mail, its SQL parameter):
 * about 1 GiB more here. With them: two of this user's files at a time, each with its mail and the mail's
 * SQL parameter (about 25 MiB each), plus the relay's claim of the ten admitted mails with their bytes
 * (about 16 MiB each while decoded) and garbage not yet collected: about 180 MiB measured. */
const RSS_GROWTH_BOUND = 320 * 1024 * 1024;

/** A file server on loopback that counts requests per path prefix and the most served at once per prefix. */
async function startFileServer(content: Buffer) {
  const requests = new Map<string, number>();
  const open = new Map<string, number>();
  const most = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const who = (req.url ?? "").split("/")[1] ?? "";
    requests.set(who, (requests.get(who) ?? 0) + 1);
    open.set(who, (open.get(who) ?? 0) + 1);
    most.set(who, Math.max(most.get(who) ?? 0, open.get(who)!));
    res.once("close", () => open.set(who, open.get(who)! - 1));
    if (who === "chunked") {
      // No declared length: the gateway counts the most a file may be, then what it was.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write(content.subarray(0, content.length / 2));
      res.end(content.subarray(content.length / 2));
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(content.length) });
    res.end(content);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: (who: string, n: number) => `http://127.0.0.1:${port}/${who}/${n}/big.bin`,
    requests: (who: string) => requests.get(who) ?? 0,
    most: (who: string) => most.get(who) ?? 0,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** The gateway process: the one whose environment names its SMTP port. */
async function gatewayPid(smtpPort: number): Promise<number> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const env = await readFile(`/proc/${entry}/environ`, "latin1").catch(() => "");
    if (env.split("\0").includes(`SMTP_LISTEN=127.0.0.1:${smtpPort}`)) return Number(entry);
  }
  throw new Error("the gateway process was not found");
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "latin1");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

describe("shared files: the sending limit before any fetch, fetches bounded per user and overall", () => {
  let stack: Stack;
  let relay: RelaySink;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  let toto: ChatClient;
  let bob: ChatClient;
  const content = randomBytes(FILE_BYTES);

  before(async () => {
    relay = await startRelaySink();
    files = await startFileServer(content);
    stack = await startStack({ gatewayEnv: { SMTP_RELAY: `smtp://127.0.0.1:${relay.port}`, FETCH_HOSTS: "127.0.0.1",
      ATTACHMENT_MAX_BYTES: String(8 * 1024 * 1024), SEND_LIMIT_PER_MINUTE: String(LIMIT), SEND_LIMIT_PER_DAY: "1000",
      // The memory budget is spent too: a 4 MiB file and its mail are more than it, so fetches take turns overall.
      FETCH_PER_USER: String(PER_USER), FETCH_MEMORY_BYTES: String(8 * 1024 * 1024) } });
    toto = (await stack.user("toto"))!;
    bob = (await stack.user("bob"))!;
  });
  after(async () => {
    await stack?.close();
    await relay?.stop();
    await files?.close();
  });

  const share = (client: ChatClient, url: string, id: string, to: string) =>
    client.send(xml("message", { type: "chat", to: contactJid(to), id }, xml("body", {}, url), xml("x", { xmlns: OOB }, xml("url", {}, url))));
  const errorOf = (client: ChatClient, id: string) =>
    client.messages.find((m) => m.attrs.type === "error" && m.attrs.id === id);

  it(`${SHARES} shares of a ${FILE_BYTES / 1024 / 1024} MiB file at once: ${LIMIT} mailed, the rest refused unfetched, memory bounded`, async () => {
    const pid = await gatewayPid(stack.gateway.smtpPort);
    const baseline = await rss(pid);
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rss(pid).catch(() => 0));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const ids = Array.from({ length: SHARES }, (_, n) => `flood${n}`);
    await Promise.all(ids.map((id, n) => share(toto, files.url("toto", n), id, `far${n}@example.com`)));
    // Meanwhile another user shares a file and writes a line: both go through.
    await share(bob, files.url("bob", 0), "bob-file", "carol@example.com");
    await bob.send(xml("message", { type: "chat", to: contactJid("carol@example.com"), id: "bob-text" }, xml("body", {}, "still served")));

    const refused = await waitFor("the refusals over the limit", () => {
      const errors = ids.map((id) => errorOf(toto, id)).filter((e): e is Element => Boolean(e));
      return errors.length >= SHARES - LIMIT && errors;
    }, 60_000);
    const mailed = await waitFor("the admitted mails at the relay", () => {
      const fromToto = relay.relayed.filter((r) => r.to.some((t) => /^far\d+@example\.com$/.test(t)));
      return fromToto.length >= LIMIT && fromToto;
    }, 60_000);
    const bobs = await waitFor("bob's two mails at the relay", () => {
      const got = relay.relayed.filter((r) => r.to.includes("carol@example.com"));
      return got.length >= 2 && got;
    }, 60_000);
    sampling = false;
    await sampler;

    // Every refusal is the limit in words, before any fetch: the file server saw only the admitted ones.
    for (const e of refused) {
      assert.ok(e.getChild("error")?.getChild("policy-violation", STANZAS), e.toString().slice(0, 300));
      assert.match(e.getChild("error")?.getChildText("text", STANZAS) ?? "", new RegExp(`may send ${LIMIT} mails a minute`));
    }
    assert.ok(toto.messages.some((m) => m.attrs.type !== "error" && /may send 10 mails a minute/.test(m.getChildText("body") ?? "")),
      "the usual chat notice about the limit");
    assert.ok(files.requests("toto") <= LIMIT, `${files.requests("toto")} fetches for ${LIMIT} admitted mails`);
    assert.ok(files.most("toto") <= PER_USER, `${files.most("toto")} of one user's fetches at once`);

    // Nothing accepted is lost: each share is either refused or mailed whole, never both, never neither.
    const refusedIds = new Set(refused.map((e) => String(e.attrs.id)));
    assert.equal(refusedIds.size, SHARES - LIMIT);
    assert.equal(mailed.length, LIMIT);
    const mailedTo = new Set(mailed.map((r) => r.to[0]!));
    for (const [n, id] of ids.entries()) {
      assert.notEqual(refusedIds.has(id), mailedTo.has(`far${n}@example.com`), `share ${id}: refused xor mailed`);
    }
    // RFC 6120 §10.1: the admitted ones are the first ones written.
    assert.deepEqual([...mailedTo].sort(), Array.from({ length: LIMIT }, (_, n) => `far${n}@example.com`).sort());
    for (const r of [...mailed, bobs[0]!]) {
      const mail = await simpleParser(r.raw);
      if (mail.attachments.length === 0) continue;
      assert.ok(mail.attachments[0]!.content.equals(content), "the file is attached byte for byte");
    }
    const withFile = await Promise.all(bobs.map(async (r) => (await simpleParser(r.raw)).attachments.length));
    assert.deepEqual(withFile.sort(), [0, 1], "bob's file and his text");
    const [{ n }] = (await stack.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM messages WHERE direction = 'outbound' AND lower(from_address) = 'toto@jabber.test'")) as [{ n: number }];
    assert.equal(n, LIMIT, "queued rows: exactly the admitted ones");

    assert.ok(peak - baseline < RSS_GROWTH_BOUND,
      `the gateway grew ${((peak - baseline) / 1024 / 1024).toFixed(0)} MiB (from ${(baseline / 1024 / 1024).toFixed(0)} MiB), bound ${RSS_GROWTH_BOUND / 1024 / 1024} MiB`);
    console.log(`# gateway VmRSS ${(baseline / 1048576).toFixed(0)} → peak ${(peak / 1048576).toFixed(0)} MiB; toto fetches ${files.requests("toto")}, at once ${files.most("toto")}`);
  });

  it("a file served without a declared length is fetched under the budget and mailed whole", async () => {
    await share(bob, files.url("chunked", 0), "bob-chunked", "dave@example.com");
    const sent = await waitFor("the mail at the relay", () => relay.relayed.find((r) => r.to.includes("dave@example.com")), 60_000);
    const mail = await simpleParser(sent.raw);
    assert.equal(mail.attachments.length, 1);
    assert.ok(mail.attachments[0]!.content.equals(content));
    assert.equal(files.requests("chunked"), 1);
  });
});
