// The smoke tests every XMPP server harness must pass, with real clients and a real component: a
// component message reaches a logged-in user, both sides come back after the server restarts on
// the same ports, and offline storage keeps and replays a message. prosody-harness.test.ts and
// ejabberd-harness.test.ts run it and add what is particular to their server.
import assert from "node:assert/strict";
import { after, before, type TestContext, test } from "node:test";
import { type Client, client, xml as clientXml } from "@xmpp/client";
import xmppComponent, { type Component, type Element } from "@xmpp/component";
import type { XmppServer } from "./xmpp-server.ts";

const { component, xml: componentXml } = xmppComponent; // CommonJS; elements must come from the sender's own @xmpp/xml
export { clientXml, componentXml };
type Entity = Client | Component;

export const WAIT_MS = 5_000;
export const COMPONENT_DOMAIN = "mail.localhost";
export const SECRET = "s3cret";
export const ALICE = `alice\\40example.com@${COMPONENT_DOMAIN}`; // XEP-0106: alice@example.com

export interface Harness {
  server(): XmppServer;
  /** The component from the first test, online. */
  gateway(): Component;
  connectComponent(options?: { domain?: string; password?: string }): Promise<Component>;
  /** Logs `user` in (password "secret") and sends initial presence; `arm` subscribes before anything can arrive. */
  connectClient(user: string, arm?: (entity: Client) => void): Promise<Client>;
  stopEntity(entity: Entity): Promise<void>;
  receive(entity: Entity, match: (el: Element) => boolean, what: string): Promise<Element>;
  /** On failure, print what the clients and the server saw. */
  withLogs(t: TestContext, body: () => Promise<void>): Promise<void>;
}

export function harnessSuite(start: (componentDomain: string, secret: string) => Promise<XmppServer>): Harness {
  let server: XmppServer | undefined;
  let gateway: Component | undefined;
  const entities = new Set<Entity>();
  const errors: unknown[] = [];
  const user = (name: string): string => `${name}@${h.server().domain}`;
  const chat = (to: string, body: string): Element =>
    componentXml("message", { type: "chat", from: ALICE, to }, componentXml("body", {}, body));

  const h: Harness = {
    server: () => server ?? assert.fail("server not started"),
    gateway: () => gateway ?? assert.fail("component from the first test"),
    async connectComponent({ domain = COMPONENT_DOMAIN, password = SECRET } = {}) {
      const entity = component({ service: `xmpp://127.0.0.1:${h.server().componentPort}`, domain, password });
      entity.on("error", (err: unknown) => errors.push(err)); // mandatory; ECONNREFUSED while the server is down
      entities.add(entity);
      try {
        await withTimeout(entity.start(), WAIT_MS, "component online");
      } catch (err) {
        await h.stopEntity(entity); // no retrying in the background after a refusal
        throw err;
      }
      return entity;
    },
    async connectClient(name, arm) {
      const entity = client({
        service: `xmpp://127.0.0.1:${h.server().c2sPort}`, // plain TCP: the test servers offer no STARTTLS
        domain: h.server().domain,
        resource: "test",
        // On an insecure stream @xmpp/client 0.14 never picks PLAIN by itself: choose it explicitly.
        credentials: (authenticate) => authenticate({ username: name, password: "secret" }, "PLAIN"),
      });
      entity.on("error", (err: unknown) => errors.push(err));
      entities.add(entity);
      arm?.(entity);
      await withTimeout(entity.start(), WAIT_MS, "client online");
      // Messages to the bare JID go to available resources only (else to offline storage): be available,
      // and wait for an IQ round trip so the server has processed the presence.
      await entity.send(clientXml("presence"));
      await entity.iqCaller.request(clientXml("iq", { type: "get" }, clientXml("ping", { xmlns: "urn:xmpp:ping" })), WAIT_MS);
      return entity;
    },
    async stopEntity(entity) {
      entities.delete(entity);
      entity.reconnect.stop();
      if (entity.status === "offline") return;
      await withTimeout(entity.stop(), WAIT_MS, "stop").catch(() => {});
    },
    receive,
    async withLogs(t, body) {
      try {
        await body();
      } catch (err) {
        t.diagnostic(`client/component errors: ${errors.map(String).join("; ") || "none"}`);
        if (server) t.diagnostic(await server.logs());
        throw err;
      }
    },
  };

  before(async () => {
    server = await start(COMPONENT_DOMAIN, SECRET);
    await server.register("toto", "secret");
  });

  after(async () => {
    for (const entity of entities) await h.stopEntity(entity);
    await server?.destroy();
  });

  test("a component message reaches a logged-in client", { timeout: 30_000 }, (t) =>
    h.withLogs(t, async () => {
      gateway = await h.connectComponent();
      let received: Promise<Element> | undefined;
      const toto = await h.connectClient("toto", (entity) => {
        received = receive(entity, (el) => el.name === "message" && el.attrs.from === ALICE, "message from alice");
      });
      await gateway.send(chat(user("toto"), "hello toto"));
      const message = await received!;
      assert.equal(message.attrs.from, ALICE);
      assert.equal(message.attrs.to?.split("/")[0], user("toto"));
      assert.equal(message.getChildText("body"), "hello toto");
      await h.stopEntity(toto);
    }),
  );

  test("client and component reconnect after the server restarts on the same ports", { timeout: 60_000 }, (t) =>
    h.withLogs(t, async () => {
      const gw = h.gateway();
      const { c2sPort, componentPort } = h.server();
      const old = await h.connectClient("toto");
      const gone = waitEvent(gw, "disconnect", "component disconnect");
      await h.server().stop();
      await gone;
      await h.stopEntity(old);
      const online = waitEvent(gw, "online", "component back online", 30_000);
      await h.server().start();
      await online; // @xmpp/reconnect retries every second on its own
      assert.deepEqual([h.server().c2sPort, h.server().componentPort], [c2sPort, componentPort]);

      let received: Promise<Element> | undefined;
      const toto = await h.connectClient("toto", (entity) => {
        received = receive(entity, (el) => el.getChildText("body") === "after restart", "message after restart");
      });
      await gw.send(chat(user("toto"), "after restart"));
      assert.equal((await received!).attrs.from, ALICE);
      await h.stopEntity(toto);
    }),
  );

  test("a message to an offline user is stored and delivered with <delay/>", { timeout: 30_000 }, (t) =>
    h.withLogs(t, async () => {
      const gw = h.gateway();
      await gw.send(chat(user("toto"), "while you were away"));
      // A ping answered proves the server has read (and stored) the message before it: streams are ordered.
      await gw.iqCaller.request(
        componentXml("iq", { type: "get", to: h.server().domain, from: COMPONENT_DOMAIN }, componentXml("ping", { xmlns: "urn:xmpp:ping" })),
        WAIT_MS,
      );
      let received: Promise<Element> | undefined;
      const toto = await h.connectClient("toto", (entity) => {
        received = receive(entity, (el) => el.getChildText("body") === "while you were away", "offline message");
      });
      const message = await received!;
      assert.equal(message.attrs.from, ALICE);
      assert.ok(message.getChild("delay", "urn:xmpp:delay"), "offline message carries XEP-0203 <delay/>");
      await h.stopEntity(toto);
    }),
  );

  test("a message to an account that does not exist bounces as service-unavailable", { timeout: 30_000 }, (t) =>
    h.withLogs(t, async () => {
      const gw = h.gateway();
      const bounce = receive(gw, (el) => el.attrs.type === "error" && el.attrs.id === "to-nobody", "the bounce");
      await gw.send(componentXml("message", { type: "chat", from: ALICE, to: user("nobody"), id: "to-nobody" },
        componentXml("body", {}, "x")));
      const error = (await bounce).getChild("error");
      assert.equal(error?.attrs.type, "cancel");
      assert.ok(error?.getChild("service-unavailable", "urn:ietf:params:xml:ns:xmpp-stanzas"), (await bounce).toString());
    }),
  );

  test("a wrong secret is refused with the stream error not-authorized", { timeout: 30_000 }, (t) =>
    h.withLogs(t, async () => {
      const err = await startRefused(h, { password: "wrong" });
      assert.equal(err.condition, "not-authorized");
    }),
  );

  return h;
}

/** Connect a component that the server must refuse; resolves with the error (a stream error has `condition`). */
export function startRefused(h: Harness, options: { domain?: string; password?: string }): Promise<Error & { condition?: string }> {
  return h.connectComponent(options).then(
    () => assert.fail("the server accepted the component"),
    (err: Error & { condition?: string }) => err,
  );
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
