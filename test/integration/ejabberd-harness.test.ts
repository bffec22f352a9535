// The ejabberd harness with real clients (the suite every server harness passes), and what ejabberd
// does differently from Prosody where the gateway can see it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Ejabberd, startEjabberd } from "../support/ejabberd.ts";
import { ALICE, clientXml, COMPONENT_DOMAIN, harnessSuite, startRefused } from "../support/harness-suite.ts";

const h = harnessSuite((componentDomain, componentSecret) => startEjabberd({ componentDomain, componentSecret }));
const ejabberd = (): Ejabberd => h.server() as Ejabberd;

test("ejabberdctl reaches this instance's node: registered users are listed", (t) =>
  h.withLogs(t, async () => {
    await ejabberd().register("zoe", "secret");
    const users = (await ejabberd().ctl("registered_users", ejabberd().domain)).split("\n").filter(Boolean).sort();
    assert.deepEqual(users, ["toto", "zoe"]);
  }),
);

// Prosody answers host-unknown ("other.localhost does not match any configured external components");
// ejabberd accepts the stream header and then refuses the handshake as if the secret were wrong.
test("an unknown component domain is refused with not-authorized, like a wrong secret", { timeout: 30_000 }, (t) =>
  h.withLogs(t, async () => {
    const err = await startRefused(h, { domain: "other.localhost" });
    assert.equal(err.condition, "not-authorized");
  }),
);

// Prosody applies nodeprep/nameprep and hands the component `alice\40example.com@mail.localhost`;
// ejabberd routes on the prepared JID but passes the `to` attribute on exactly as the client wrote it.
test("ejabberd passes the component the recipient JID with the case the client used", { timeout: 30_000 }, (t) =>
  h.withLogs(t, async () => {
    const gw = h.gateway();
    const toto = await h.connectClient("toto");
    const to = `Alice\\40Example.COM@${COMPONENT_DOMAIN.toUpperCase()}`;
    const got = h.receive(gw, (el) => el.attrs.id === "case-1", "the message at the component");
    await toto.send(clientXml("message", { type: "chat", to, id: "case-1" }, clientXml("body", {}, "hi")));
    const message = await got;
    assert.equal(message.attrs.to, to);
    assert.equal(message.attrs.from, `toto@${ejabberd().domain}/test`);
    await h.stopEntity(toto);
  }),
);

// ejabberd has no notion of a component being away: without a route it tries s2s. This config turns
// s2s off, so the answer is forbidden; with s2s on (the default) it is remote-server-not-found
// ("DNS lookup failed"), type cancel. Prosody answers remote-server-timeout, type wait.
test("a message to the component while it is offline bounces with forbidden (s2s is off here)", { timeout: 30_000 }, (t) =>
  h.withLogs(t, async () => {
    await h.stopEntity(h.gateway());
    const toto = await h.connectClient("toto");
    const bounce = h.receive(toto, (el) => el.attrs.type === "error" && el.attrs.id === "down-1", "the bounce");
    await toto.send(clientXml("message", { type: "chat", to: ALICE, id: "down-1" }, clientXml("body", {}, "hi")));
    const error = (await bounce).getChild("error");
    assert.ok(error?.getChild("forbidden", "urn:ietf:params:xml:ns:xmpp-stanzas"), (await bounce).toString());
    await h.stopEntity(toto);
  }),
);

