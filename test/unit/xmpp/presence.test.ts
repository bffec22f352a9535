// RFC 6121 presence between users and contacts, without a server (docs/design.md §Presence): one probe,
// one answer from the contact's fixed resource; a user's own presence asks nothing.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import xmppComponent, { type Element } from "@xmpp/component";
import { CONTACT_RESOURCE, installGateway, type GatewayServices, type SubscriptionState } from "../../../src/xmpp/gateway.ts";
import { createLogger } from "../../../src/log.ts";

const { xml } = xmppComponent;
const DOMAIN = "mail.example.org";
const ALICE = `alice\\40example.com@${DOMAIN}`;

function gateway(state: SubscriptionState) {
  const sent: Element[] = [];
  const services: GatewayServices = {
    contactName: async () => null, getSubscription: async () => state, setSubscription: async () => true,
    askOnce: async () => false, registration: null, commands: [], isAdmin: () => false,
  };
  const iq = { get: () => undefined, set: () => undefined };
  const { onPresence } = installGateway({ domain: DOMAIN, version: "0" }, iq, async (s) => { sent.push(s); }, services, createLogger("silent"));
  return { sent, onPresence };
}

describe("contact presence", () => {
  for (const from of ["toto@example.org", "toto@example.org/phone"]) {
    it(`answers a probe from ${from} once, from the contact's fixed resource, to the prober`, async () => {
      const { sent, onPresence } = gateway({ fromUser: true, toUser: true });
      await onPresence(xml("presence", { type: "probe", from, to: ALICE }));
      assert.deepEqual(sent.map((s) => [s.attrs.from, s.attrs.to, s.attrs.type]), [[`${ALICE}/${CONTACT_RESOURCE}`, from, undefined]]);
    });
  }

  it("tells a prober who is not subscribed that it is not, from the bare JID", async () => {
    const { sent, onPresence } = gateway({ fromUser: false, toUser: false });
    await onPresence(xml("presence", { type: "probe", from: "toto@example.org/phone", to: ALICE }));
    assert.deepEqual(sent.map((s) => [s.attrs.from, s.attrs.type]), [[ALICE, "unsubscribed"]]);
  });

  it("does not answer a user's available or unavailable presence", async () => {
    const { sent, onPresence } = gateway({ fromUser: true, toUser: true });
    await onPresence(xml("presence", { from: "toto@example.org/phone", to: ALICE }));
    await onPresence(xml("presence", { from: "toto@example.org/phone", to: ALICE, type: "unavailable" }));
    assert.deepEqual(sent, []);
  });

  it("the gateway's own presence comes from its domain", async () => {
    const { sent, onPresence } = gateway({ fromUser: false, toUser: false });
    await onPresence(xml("presence", { type: "probe", from: "toto@example.org", to: DOMAIN }));
    assert.deepEqual(sent.map((s) => s.attrs.from), [DOMAIN]);
  });

  it("unsubscribing: unsubscribed from the bare JID, unavailable from the fixed resource", async () => {
    const { sent, onPresence } = gateway({ fromUser: true, toUser: true });
    await onPresence(xml("presence", { type: "unsubscribe", from: "toto@example.org", to: ALICE }));
    assert.deepEqual(sent.map((s) => [s.attrs.from, s.attrs.type]), [[ALICE, "unsubscribed"], [`${ALICE}/${CONTACT_RESOURCE}`, "unavailable"]]);
  });
});
