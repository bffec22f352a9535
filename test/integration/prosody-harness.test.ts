// Smoke test of the Prosody harness with real clients: a component message reaches a logged-in user,
// both sides come back after Prosody restarts on the same ports, and mod_offline stores and replays.
import assert from "node:assert/strict";
import { after, before, type TestContext, test } from "node:test";
import { type Client, client, xml as clientXml } from "@xmpp/client";
import xmppComponent, { type Component, type Element } from "@xmpp/component";
import { type Prosody, startProsody } from "../support/prosody.ts";

const { component, xml: componentXml } = xmppComponent; // CommonJS; elements must come from the sender's own @xmpp/xml
type Entity = Client | Component;
type PlainAuthenticate = (credentials: { username: string; password: string }, mechanism: string) => Promise<void>;

const WAIT_MS = 5_000;
const COMPONENT_DOMAIN = "mail.localhost";
const ALICE = `alice\\40example.com@${COMPONENT_DOMAIN}`; // XEP-0106: alice@example.com
const TOTO = "toto@localhost";

let prosody: Prosody;
let gateway: Component | undefined;
const clients = new Set<Client>();
const errors: unknown[] = [];

before(async () => {
  prosody = await startProsody({ componentDomain: COMPONENT_DOMAIN, componentSecret: "s3cret" });
  await prosody.register("toto", "secret");
});

after(async () => {
  for (const entity of [...clients, gateway]) if (entity !== undefined) await stopEntity(entity);
  await prosody?.destroy();
});

test("a component message reaches a logged-in client", { timeout: 30_000 }, (t) =>
  withLogs(t, async () => {
    gateway = await connectComponent();
    const toto = await connectClient();
    const received = receive(toto, (el) => el.name === "message" && el.attrs.from === ALICE, "message from alice");
    await gateway.send(chat("hello toto"));
    const message = await received;
    assert.equal(message.attrs.from, ALICE);
    assert.equal(message.attrs.to?.split("/")[0], TOTO);
    assert.equal(message.getChildText("body"), "hello toto");
    await stopEntity(toto);
  }),
);

test("client and component reconnect after Prosody restarts on the same ports", { timeout: 30_000 }, (t) =>
  withLogs(t, async () => {
    assert.ok(gateway, "component from the first test");
    const old = await connectClient();
    const gone = waitEvent(gateway, "disconnect", "component disconnect");
    await prosody.stop();
    await gone;
    await stopEntity(old);
    const online = waitEvent(gateway, "online", "component back online", 15_000);
    await prosody.start();
    await online; // @xmpp/reconnect retries every second on its own

    const toto = await connectClient();
    const received = receive(toto, (el) => el.getChildText("body") === "after restart", "message after restart");
    await gateway.send(chat("after restart"));
    assert.equal((await received).attrs.from, ALICE);
    await stopEntity(toto);
  }),
);

test("a message to an offline user is stored and delivered with <delay/>", { timeout: 30_000 }, (t) =>
  withLogs(t, async () => {
    assert.ok(gateway, "component from the first test");
    await gateway.send(chat("while you were away"));
    // A ping answered proves Prosody has read (and stored) the message before it: streams are ordered.
    await gateway.iqCaller.request(
      componentXml("iq", { type: "get", to: "localhost", from: COMPONENT_DOMAIN }, componentXml("ping", { xmlns: "urn:xmpp:ping" })),
      WAIT_MS,
    );
    const toto = await connectClient((entity) =>
      receive(entity, (el) => el.getChildText("body") === "while you were away", "offline message"),
    );
    const { message } = toto;
    assert.equal(message.attrs.from, ALICE);
    assert.ok(message.getChild("delay", "urn:xmpp:delay"), "offline message carries XEP-0203 <delay/>");
    await stopEntity(toto.entity);
  }),
);

function chat(body: string): Element {
  return componentXml("message", { type: "chat", from: ALICE, to: TOTO }, componentXml("body", {}, body));
}

async function connectComponent(): Promise<Component> {
  const entity = component({
    service: `xmpp://127.0.0.1:${prosody.componentPort}`,
    domain: prosody.componentDomain,
    password: prosody.componentSecret,
  });
  entity.on("error", (err: unknown) => errors.push(err)); // mandatory; ECONNREFUSED while Prosody is down
  await withTimeout(entity.start(), WAIT_MS, "component online");
  return entity;
}

/** Logs toto in and sends initial presence; `arm` subscribes before anything can arrive. */
async function connectClient(): Promise<Client>;
async function connectClient<T>(arm: (entity: Client) => Promise<T>): Promise<{ entity: Client; message: T }>;
async function connectClient<T>(arm?: (entity: Client) => Promise<T>): Promise<Client | { entity: Client; message: T }> {
  const options = {
    service: `xmpp://127.0.0.1:${prosody.c2sPort}`, // plain TCP: Prosody offers no STARTTLS without mod_tls
    domain: prosody.domain,
    resource: "test",
    // On an insecure stream @xmpp/client 0.14 never picks PLAIN by itself (it takes SCRAM-SHA-1, whose
    // WebCrypto PBKDF2 at Prosody's fixed i=10000 costs ~0.65 s a login): choose PLAIN explicitly.
    credentials: (authenticate: PlainAuthenticate) => authenticate({ username: "toto", password: "secret" }, "PLAIN"),
  };
  const entity = client(options);
  entity.on("error", (err: unknown) => errors.push(err));
  clients.add(entity);
  const armed = arm?.(entity);
  await withTimeout(entity.start(), WAIT_MS, "client online");
  // Messages to the bare JID go to available resources only (else to offline storage): be available,
  // and wait for an IQ round trip so Prosody has processed the presence.
  await entity.send(clientXml("presence"));
  await entity.iqCaller.request(clientXml("iq", { type: "get" }, clientXml("ping", { xmlns: "urn:xmpp:ping" })), WAIT_MS);
  return armed === undefined ? entity : { entity, message: await armed };
}

async function stopEntity(entity: Entity): Promise<void> {
  clients.delete(entity as Client);
  entity.reconnect.stop();
  if (entity.status === "offline") return;
  await withTimeout(entity.stop(), WAIT_MS, "stop").catch(() => {});
}

function receive(entity: Entity, match: (el: Element) => boolean, what: string): Promise<Element> {
  return new Promise((resolve, reject) => {
    const onStanza = (el: Element): void => {
      if (!match(el)) return;
      clearTimeout(timer);
      entity.removeListener("stanza", onStanza);
      resolve(el);
    };
    const timer = setTimeout(() => {
      entity.removeListener("stanza", onStanza);
      reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`));
    }, WAIT_MS);
    entity.on("stanza", onStanza);
  });
}

function waitEvent(entity: Entity, event: string, what: string, ms = WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = (): void => {
      clearTimeout(timer);
      entity.removeListener(event, onEvent);
      resolve();
    };
    const timer = setTimeout(() => {
      entity.removeListener(event, onEvent);
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    entity.on(event, onEvent);
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** On failure, print what the clients and Prosody saw (node:test prints diagnostics under the test). */
async function withLogs(t: TestContext, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    t.diagnostic(`client/component errors: ${errors.map(String).join("; ") || "none"}`);
    t.diagnostic(await prosody.logs());
    throw err;
  }
}
