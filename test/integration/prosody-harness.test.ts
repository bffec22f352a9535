// The Prosody harness with real clients (the suite every server harness passes), and what Prosody
// does where ejabberd differs (see ejabberd-harness.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { ALICE, clientXml, COMPONENT_DOMAIN, harnessSuite, startRefused } from "../support/harness-suite.ts";
import { startProsody } from "../support/prosody.ts";

const h = harnessSuite((componentDomain, componentSecret) => startProsody({ componentDomain, componentSecret }));

test("an unknown component domain is refused with host-unknown", { timeout: 30_000 }, (t) =>
  h.withLogs(t, async () => {
    const err = await startRefused(h, { domain: "other.localhost" });
    assert.equal(err.condition, "host-unknown");
  }),
);

test("Prosody hands the component the recipient JID case-folded (nodeprep, nameprep)", { timeout: 30_000 }, (t) =>
  h.withLogs(t, async () => {
    const gw = h.gateway();
    const toto = await h.connectClient("toto");
    const got = h.receive(gw, (el) => el.attrs.id === "case-1", "the message at the component");
    await toto.send(clientXml("message", { type: "chat", to: `Alice\\40Example.COM@${COMPONENT_DOMAIN.toUpperCase()}`, id: "case-1" },
      clientXml("body", {}, "hi")));
    assert.equal((await got).attrs.to, ALICE);
    await h.stopEntity(toto);
  }),
);

test("a message to the component while it is offline bounces with remote-server-timeout", { timeout: 30_000 }, (t) =>
  h.withLogs(t, async () => {
    await h.stopEntity(h.gateway());
    const toto = await h.connectClient("toto");
    const bounce = h.receive(toto, (el) => el.attrs.type === "error" && el.attrs.id === "down-1", "the bounce");
    await toto.send(clientXml("message", { type: "chat", to: ALICE, id: "down-1" }, clientXml("body", {}, "hi")));
    const error = (await bounce).getChild("error");
    assert.equal(error?.attrs.type, "wait");
    assert.ok(error?.getChild("remote-server-timeout", "urn:ietf:params:xml:ns:xmpp-stanzas"), (await bounce).toString());
    await h.stopEntity(toto);
  }),
);
