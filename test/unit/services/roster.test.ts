import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRosterService, type RosterLink } from "../../../src/services/roster.ts";
import type { ContactRecord } from "../../../src/core/roster.ts";
import type { RosterStore } from "../../../src/store/roster.ts";
import type { SubscriptionStore } from "../../../src/store/subscriptions.ts";
import type { BareJid, MailAddress } from "../../../src/core/types.ts";

const user = "toto@example.org" as BareJid;
const jid = (local: string) => `${local}\\40example.com@mail.example.org`;
const silent = { warn: () => undefined } as never;

function setup(options: { granted?: boolean; refuseSet?: boolean; enabled?: boolean } = {}) {
  const records = new Map<string, ContactRecord>();
  const roster = new Map<string, { name: string | null; groups: string[] }>();
  const calls: string[] = [];
  const announced: string[] = [];
  let granted = options.granted ?? true;
  const asked = new Set<string>();
  const store = {
    get: async (_u: string, a: string) => records.get(a) ?? null,
    put: async (_u: string, a: string, r: ContactRecord) => void records.set(a, r),
    enabledFor: async () => options.enabled ?? true,
  } as unknown as RosterStore;
  const subscriptions = {
    get: async () => ({ fromUser: false, toUser: false }),
    set: async () => true,
    askOnce: async (_u: string, c: string) => !asked.has(c) && Boolean(asked.add(c)),
  } as unknown as SubscriptionStore;
  const link: RosterLink = {
    canRoster: () => granted,
    rosterItem: async (_u, c) => { calls.push(`get ${c}`); return roster.get(c) ?? null; },
    rosterSet: async (_u, c, name, groups) => {
      calls.push(`set ${c} ${name}`);
      if (options.refuseSet) { granted = false; throw Object.assign(new Error("internal-server-error"), { condition: "internal-server-error" }); }
      roster.set(c, { name, groups });
    },
    askSubscription: async (from, _to, nick) => void calls.push(`subscribe ${from} ${nick}`),
    announceContact: async (c) => void announced.push(c),
    suggestContact: async (_u, c, name) => { calls.push(`suggest ${c} ${name}`); return 1; },
  };
  const service = createRosterService({ componentDomain: "mail.example.org", group: "E-mail", queueMax: 2 },
    { store, subscriptions, link: () => link, log: silent });
  return { service, calls, roster, records, announced };
}

describe("roster service", () => {
  it("looks at a pair once per name change, the latest mail's name winning, within its queue bound", async () => {
    const { service, calls } = setup();
    assert.equal(service.noteDelivered(user, jid("alice"), "Alice"), true, "taken at once");
    assert.equal(service.noteDelivered(user, jid("bob"), "Bob"), true);
    assert.equal(service.noteDelivered(user, jid("bob"), "Bobby"), true, "the same pair takes no more room");
    assert.equal(service.noteDelivered(user, jid("carol"), "Carol"), true);
    assert.equal(service.noteDelivered(user, jid("dave"), "Dave"), false, "two pairs wait at most");
    await service.idle();
    assert.deepEqual(calls.filter((c) => c.startsWith("set")), [`set ${jid("alice")} Alice`, `set ${jid("bob")} Bobby`, `set ${jid("carol")} Carol`]);
    calls.length = 0;
    service.noteDelivered(user, jid("alice"), "Alice");
    await service.idle();
    assert.deepEqual(calls, [], "same name: not even a roster read");
    service.noteDelivered(user, jid("alice"), "Alice Martin");
    await service.idle();
    assert.deepEqual(calls, [`get ${jid("alice")}`, `set ${jid("alice")} Alice Martin`]);
  });

  it("first(): a new correspondent's item is written before its first mail, announced available, once per pair", async () => {
    const { service, calls, announced } = setup();
    await service.first(user, jid("alice"), "Alice Martin");
    assert.deepEqual(calls, [`get ${jid("alice")}`, `set ${jid("alice")} Alice Martin`]);
    assert.deepEqual(announced, [jid("alice")]);
    await service.first(user, jid("alice"), "Alice Martin");
    assert.equal(calls.length, 2, "a known pair is not looked at again before delivery");
    service.noteDelivered(user, jid("alice"), "Alice Martin");
    await service.idle();
    assert.equal(calls.length, 2, "nor after: the name is the same");
  });

  it("first(): waits at most its bound, then stops waiting for a minute", async () => {
    const slow = createRosterService({ componentDomain: "mail.example.org", group: "E-mail", queueMax: 2, firstWaitMs: 20 }, {
      store: { get: async () => null, put: async () => undefined, enabledFor: async () => true } as unknown as RosterStore,
      subscriptions: { set: async () => true } as unknown as SubscriptionStore, log: silent,
      link: () => ({ canRoster: () => true, rosterItem: () => new Promise(() => undefined), rosterSet: async () => undefined,
        askSubscription: async () => undefined, announceContact: async () => undefined, suggestContact: async () => 0 }),
    });
    const started = Date.now();
    await slow.first(user, jid("bob"), null);
    await slow.first(user, jid("carol"), null);
    assert.ok(Date.now() - started < 1000, "the second did not wait");
  });

  it("addContact: off, unavailable, added, then exists", async () => {
    assert.equal(await setup({ enabled: false }).service.addContact(user, "a@example.com" as MailAddress, "A"), "off");
    assert.equal(await setup({ granted: false }).service.addContact(user, "a@example.com" as MailAddress, "A"), "unavailable");
    const { service } = setup();
    assert.equal(await service.addContact(user, "a@example.com" as MailAddress, "A"), "added");
    assert.equal(await service.addContact(user, "a@example.com" as MailAddress, "A"), "exists");
  });

  it("without permission, or when the server refuses the write, asks to subscribe once per pair, with a XEP-0144 suggestion", async () => {
    for (const options of [{ granted: false }, { refuseSet: true }]) {
      const { service, calls } = setup(options);
      service.noteDelivered(user, jid("alice"), "Alice Martin");
      await service.idle();
      service.noteDelivered(user, jid("alice"), "Alice Martin");
      await service.idle();
      assert.deepEqual(calls.filter((c) => !c.startsWith("get") && !c.startsWith("set")),
        [`subscribe ${jid("alice")} Alice Martin`, `suggest ${jid("alice")} Alice Martin`], JSON.stringify(options));
    }
  });
});
