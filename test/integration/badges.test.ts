// Presence badges (docs/design.md §Presence badges) end to end: a real Prosody user opts in with the
// gateway's command, accepts the gateway's subscription, and a real browser (Debian's Chromium) shows the
// badge, sees it change with the user's presence, and loads nothing else; opting out is a 404 at once.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { COMPONENT_DOMAIN, startStack, type Stack } from "../support/stack.ts";
import { waitFor } from "../support/wait.ts";
import { CHROMIUM } from "../support/web.ts";
import { connectClient, xml, type ChatClient, type Element } from "../support/xmpp-client.ts";

const PUBLIC_URL = "https://mail.example.test";
const NS = { commands: "http://jabber.org/protocol/commands", data: "jabber:x:data" };
const iq = (type: "get" | "set", to: string, child: Element) => xml("iq", { type, to }, child);
const submit = (fields: Record<string, string>) => xml("x", { xmlns: NS.data, type: "submit" },
  ...Object.entries(fields).map(([v, value]) => xml("field", { var: v }, xml("value", {}, value))));

for (const server of ["prosody", "ejabberd"] as const) describe(`presence badges (${server})`, () => {
  let stack: Stack;
  let toto: ChatClient;
  let browser: Browser;
  let site: Server;
  let siteOrigin = "";
  let badgeId = "";
  const local = () => `http://127.0.0.1:${stack.gateway.httpPort}`;
  const json = async (id: string) => (await fetch(`${local()}/presence/${id}.json`)).json() as Promise<{ status: string; message: string | null; since: string }>;

  /** The "Presence badge" command (XEP-0050), submitted with the given fields; resolves with its note. */
  async function badgeCommand(client: ChatClient, fields: Record<string, string>): Promise<string> {
    const first = (await client.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node: "badge", action: "execute" }))))
      .getChild("command", NS.commands)!;
    const done = (await client.request(iq("set", COMPONENT_DOMAIN, xml("command", { xmlns: NS.commands, node: "badge",
      sessionid: first.attrs.sessionid, action: "complete" }, submit(fields))))).getChild("command", NS.commands)!;
    return done.getChildText("note") ?? "";
  }

  /** The subscription of the gateway's domain in the user's roster (RFC 6121 §2.1.2.5). */
  async function subscriptionOf(client: ChatClient): Promise<string | undefined> {
    const roster = (await client.request(iq("get", client.jid, xml("query", { xmlns: "jabber:iq:roster" })))).getChild("query", "jabber:iq:roster")!;
    return roster.getChildren("item").find((i) => i.attrs.jid === COMPONENT_DOMAIN)?.attrs.subscription;
  }

  before(async () => {
    stack = await startStack({ server, gatewayEnv: { PUBLIC_URL: `${PUBLIC_URL}/` } });
    toto = (await stack.user("toto"))!;
    browser = await chromium.launch({ executablePath: CHROMIUM });
    // A web page of the user's own, on another origin, that embeds the badge.
    site = createServer((req, res) => {
      const id = (req.url ?? "").slice(1);
      res.writeHead(200, { "content-type": "text/html" })
        .end(`<!doctype html><title>Toto's page</title><p>Toto is <img id="badge" src="${local()}/presence/${id}.svg" alt="status"></p>`);
    });
    await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
    siteOrigin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => site?.close(resolve));
    await stack?.close();
  });

  it("opting in: the gateway's domain asks for the user's presence, and the badge says online", async () => {
    const note = await badgeCommand(toto, { enabled: "1", show_message: "1" });
    badgeId = /\/presence\/([0-9a-z]{26})\.svg/.exec(note)?.[1] ?? "";
    assert.ok(badgeId, `the answer gives the badge's address: ${note}`);
    assert.ok(note.includes(`${PUBLIC_URL}/presence/${badgeId}.svg`), "under PUBLIC_URL");
    const ask = await toto.waitForPresence((p) => p.attrs.type === "subscribe" && p.attrs.from === COMPONENT_DOMAIN, "the gateway's subscription request");
    assert.equal(ask.getChildText("nick", "http://jabber.org/protocol/nick"), "E-mail gateway");
    // Offline until the user accepts.
    assert.equal((await json(badgeId)).status, "offline");
    await toto.send(xml("presence", { to: COMPONENT_DOMAIN, type: "subscribed" }));
    await waitFor("the badge online", async () => (await json(badgeId)).status === "online");
    assert.equal(await subscriptionOf(toto), "from", "the user's roster lets the gateway see their presence");
  });

  it("renders in a real browser on another site's page, loading nothing but the badge", async () => {
    const context = await browser.newContext({ locale: "en-GB" });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(`${siteOrigin}/${badgeId}`, { waitUntil: "load" });
    const width = await page.locator("#badge").evaluate((img: { complete: boolean; naturalWidth: number }) => img.complete ? img.naturalWidth : 0);
    assert.ok(width > 40, `the SVG rendered (${width} px wide)`);
    assert.deepEqual(requests, [`${siteOrigin}/${badgeId}`, `${local()}/presence/${badgeId}.svg`]);
    // The image itself, opened as a document: its words, and nothing it loads.
    requests.length = 0;
    await page.goto(`${local()}/presence/${badgeId}.svg`);
    assert.equal(await page.locator("text").textContent(), "Online");
    assert.deepEqual(requests, [`${local()}/presence/${badgeId}.svg`]);
    await context.close();
  });

  it("changes with the user's presence, with the message when allowed, in the reader's language", async () => {
    await toto.send(xml("presence", {}, xml("show", {}, "dnd"), xml("status", {}, "in a meeting")));
    await waitFor("the badge busy", async () => (await json(badgeId)).status === "dnd");
    assert.equal((await json(badgeId)).message, "in a meeting");
    const context = await browser.newContext({ locale: "fr-FR" });
    const page = await context.newPage();
    await page.goto(`${local()}/presence/${badgeId}.svg`);
    assert.equal(await page.locator("text").textContent(), "Occupé: in a meeting");
    await context.close();
    const text = await fetch(`${local()}/presence/${badgeId}.txt`, { headers: { "accept-language": "de" } });
    assert.equal(await text.text(), "Beschäftigt: in a meeting\n");
    assert.match(text.headers.get("cache-control") ?? "", /max-age=\d$/);
    assert.match(text.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const snippet = await (await fetch(`${local()}/presence/${badgeId}.html`)).text();
    assert.ok(snippet.startsWith(`<img src="${PUBLIC_URL}/presence/${badgeId}.svg"`), snippet);
    // Without the message allowed, none is stored or shown.
    await badgeCommand(toto, { enabled: "1", show_message: "0" });
    await waitFor("the message hidden", async () => (await json(badgeId)).message === null);
    assert.equal((await stack.db.query<{ message: string | null }>("SELECT message FROM badges"))[0]!.message, null);
    // A second resource with a higher priority speaks for the account; when it leaves, the first again.
    const phone = await connectClient(stack.server.c2sPort, stack.server.domain, "toto", "secret", { resource: "phone" });
    await phone.send(xml("presence", {}, xml("show", {}, "away"), xml("priority", {}, "10")));
    await waitFor("the phone's away", async () => (await json(badgeId)).status === "away");
    await phone.stop();
    await waitFor("back to busy", async () => (await json(badgeId)).status === "dnd");
  });

  it("answers the chat command too: where the badge is, and what it shows", async () => {
    const before = toto.messages.length;
    await toto.send(xml("message", { type: "chat", to: COMPONENT_DOMAIN }, xml("body", {}, "badge")));
    const answer = await toto.waitForMessage((m) => toto.messages.indexOf(m) >= before && m.attrs.from === COMPONENT_DOMAIN
      && (m.getChildText("body") ?? "").includes("/presence/"), "the badge chat command's answer");
    assert.ok(answer.getChildText("body")!.includes(`${PUBLIC_URL}/presence/${badgeId}.svg`));
  });

  it("refuses accounts without a mailbox, and never gives out a badge to them", async () => {
    await stack.server.register("stranger", "secret");
    const stranger = await connectClient(stack.server.c2sPort, stack.server.domain, "stranger", "secret");
    try {
      assert.match(await badgeCommand(stranger, { enabled: "1", show_message: "1" }), /accounts with a mailbox/);
      assert.equal((await stack.db.query("SELECT 1 FROM badges WHERE user_jid LIKE 'stranger@%'")).length, 0);
    } finally {
      await stranger.stop();
    }
  });

  it("opting out: the same 404 as an unknown id, at once, and the gateway unsubscribes", async () => {
    const unknown = await fetch(`${local()}/presence/${"a".repeat(26)}.svg`);
    const note = await badgeCommand(toto, { enabled: "0", show_message: "0" });
    assert.match(note, /gone/);
    // RFC 6121 §3.3: the server takes the gateway's subscription out of the user's roster.
    await waitFor("the gateway's subscription cancelled in the roster", async () => await subscriptionOf(toto) === "none");
    for (const kind of [".svg", ".json", ".txt", ".html", ""]) {
      const revoked = await fetch(`${local()}/presence/${badgeId}${kind}`);
      assert.equal(revoked.status, 404);
      assert.equal(await revoked.text(), "not found\n");
    }
    assert.equal(unknown.status, 404);
    assert.equal(await unknown.text(), "not found\n");
    // Opting in again gives a new, unrelated id; the old one stays dead.
    const again = /\/presence\/([0-9a-z]{26})\.svg/.exec(await badgeCommand(toto, { enabled: "1", show_message: "0" }))?.[1];
    assert.ok(again && again !== badgeId);
    assert.equal((await fetch(`${local()}/presence/${badgeId}.json`)).status, 404);
    assert.equal((await fetch(`${local()}/presence/${again}.json`)).status, 200);
  });
});
