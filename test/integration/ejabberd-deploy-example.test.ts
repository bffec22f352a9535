// deploy/ejabberd/ejabberd.yml.example does what docs/xmpp-servers.md says, on ejabberd 23.01: added to a
// running server's config and applied with `ejabberdctl reload_config`, its listener takes the
// component with its secret, and its mod_block_strangers whitelist lets the gateway's contacts through
// while other strangers stay blocked, and its mod_privilege grants the gateway (only) XEP-0356 permissions. (The snippet is added with include_config_file, which merges
// its listen, acl, access_rules and modules into the main file's.)
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import xmppComponent, { type Component, type Element } from "@xmpp/component";
import { type Ejabberd, startEjabberd } from "../support/ejabberd.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";
import { connectClient, type ChatClient, xml as clientXml } from "../support/xmpp-client.ts";

const { component, xml } = xmppComponent;
const EXAMPLE = new URL("../../deploy/ejabberd/ejabberd.yml.example", import.meta.url);
const GATEWAY = "mail.jabber.tcweb.org"; // the example's component domain and secret, as shipped
const GATEWAY_SECRET = "REPLACE-WITH-XMPP_SECRET";

let ejabberd: Ejabberd;
let examplePort: number;
let toto: ChatClient;
const components: Component[] = [];
const received = new Map<Component, Element[]>();

before(async () => {
  ejabberd = await startEjabberd({ componentDomain: "mail.localhost", componentSecret: "s3cret" });
  await ejabberd.register("toto", "secret");
  // The example listens on 5347: move it to a free port, nothing else changes.
  examplePort = await freePort();
  const example = (await readFile(EXAMPLE, "utf8")).replace(/^( *port:) 5347$/m, `$1 ${examplePort}`);
  assert.match(example, new RegExp(`port: ${examplePort}\\n`));
  const snippet = join(ejabberd.dir, "passerelle.yml");
  await writeFile(snippet, example);
  await appendFile(ejabberd.configPath, `\ninclude_config_file: ${JSON.stringify(snippet)}\n`);
  await ejabberd.ctl("reload_config");
  toto = await connectClient(ejabberd.c2sPort, ejabberd.domain, "toto", "secret");
});

after(async () => {
  await toto?.stop();
  for (const c of components) {
    c.reconnect.stop();
    await c.stop().catch(() => undefined);
  }
  await ejabberd?.destroy();
});

async function connect(port: number, domain: string, password: string): Promise<Component> {
  const c = component({ service: `xmpp://127.0.0.1:${port}`, domain, password });
  c.on("error", () => undefined);
  received.set(c, []);
  c.on("stanza", (stanza: Element) => received.get(c)!.push(stanza));
  components.push(c);
  await c.start();
  return c;
}

it("takes the component on the example's listener after reload_config, and refuses a wrong secret", async (t) => {
  try {
    await connect(examplePort, GATEWAY, GATEWAY_SECRET);
    const wrong = component({ service: `xmpp://127.0.0.1:${examplePort}`, domain: GATEWAY, password: "wrong" });
    wrong.on("error", () => undefined);
    wrong.reconnect.stop();
    await assert.rejects(wrong.start(), (err: { condition?: string }) => err.condition === "not-authorized");
  } catch (err) {
    t.diagnostic(await ejabberd.logs());
    throw err;
  }
});

it("grants the gateway roster and message permission (XEP-0356, urn:xmpp:privilege:1 in 23.01)", async () => {
  const gateway = components[0] ?? assert.fail("component from the first test");
  const privilege = (await waitFor("the announcement", () => received.get(gateway)!.find((m) => m.getChild("privilege", "urn:xmpp:privilege:1"))))
    .getChild("privilege", "urn:xmpp:privilege:1")!;
  const perms = Object.fromEntries(privilege.getChildren("perm").map((p) => [p.attrs.access, p.attrs.type]));
  assert.equal(perms.roster, "both");
  assert.equal(perms.message, "outgoing");
});

it("lets the gateway's contacts through mod_block_strangers, and blocks other strangers", async () => {
  const gateway = components[0] ?? assert.fail("component from the first test");
  const other = await connect(ejabberd.componentPort, "mail.localhost", "s3cret");
  await other.send(xml("message", { type: "chat", from: "bob@mail.localhost", to: toto.jid, id: "stranger" }, xml("body", {}, "blocked")));
  await gateway.send(xml("message", { type: "chat", from: `alice\\40example.com@${GATEWAY}`, to: toto.jid, id: "contact" },
    xml("body", {}, "let through")));
  const m = await toto.waitForMessage((s) => s.attrs.id === "contact", "the gateway contact's message", 10_000);
  assert.equal(m.attrs.from, `alice\\40example.com@${GATEWAY}`);
  // The stranger's message has reached toto's session once a ping sent after it on the same stream is
  // answered (ejabberd routes a component's stanzas in order); toto's session has handled it once a
  // ping from toto, arriving later in the same session process, is answered.
  await other.iqCaller.request(xml("iq", { type: "get", from: "mail.localhost", to: ejabberd.domain }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  await toto.request(clientXml("iq", { type: "get", to: ejabberd.domain }, clientXml("ping", { xmlns: "urn:xmpp:ping" })));
  assert.ok(!toto.messages.some((s) => s.attrs.id === "stranger"), "mod_block_strangers dropped the stranger's message");
  assert.ok(!received.get(other)!.some((m) => m.getChild("privilege", "urn:xmpp:privilege:1")), "another component is granted nothing");
});
