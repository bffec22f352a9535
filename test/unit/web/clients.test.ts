// The budgets of web clients (src/web/clients.ts): requests in flight and per minute per client,
// connections per peer; trusted proxies name their clients and have no connection cap.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createWebClients, type WebClientLimits } from "../../../src/web/clients.ts";

const LIMITS: WebClientLimits = { trustedProxies: ["127.0.0.1"], ratePerMinute: 60, maxInFlight: 2, maxConnections: 2 };

describe("web clients", () => {
  it("lets a client have maxInFlight requests at once; the next is busy until one is done, another client is not", () => {
    const clients = createWebClients({ ...LIMITS, ratePerMinute: 0 }, { now: () => 0 });
    const a = clients.clientOf("198.51.100.1", undefined);
    const first = clients.admit(a);
    const second = clients.admit(a);
    assert.equal(typeof first, "function");
    assert.equal(typeof second, "function");
    assert.deepEqual(clients.admit(a), { reason: "busy", retryAfter: 1 });
    assert.equal(typeof clients.admit(clients.clientOf("198.51.100.2", undefined)), "function", "another client is served");
    (first as () => void)();
    (first as () => void)(); // a second release gives nothing back twice
    const third = clients.admit(a);
    assert.equal(typeof third, "function");
    assert.deepEqual(clients.admit(a), { reason: "busy", retryAfter: 1 });
    (second as () => void)();
    (third as () => void)();
    assert.equal(clients.size().inFlight, 1, "only the other client's request is remembered");
  });

  it("spends a quarter of a minute's rate at once, then one a second; a refused request takes no place", () => {
    let now = 0;
    const clients = createWebClients({ ...LIMITS, maxInFlight: 100 }, { now: () => now });
    const a = clients.clientOf("198.51.100.1", undefined);
    for (let i = 0; i < 15; i++) (clients.admit(a) as () => void)();
    assert.deepEqual(clients.admit(a), { reason: "rate", retryAfter: 1 });
    assert.equal(clients.size().inFlight, 0);
    now += 1000;
    assert.equal(typeof clients.admit(a), "function");
    assert.deepEqual(clients.admit(a), { reason: "rate", retryAfter: 1 });
  });

  it("counts the clients a trusted proxy names one by one, and a stranger's X-Forwarded-For not at all", () => {
    const clients = createWebClients({ ...LIMITS, ratePerMinute: 0 }, { now: () => 0 });
    const behind = ["203.0.113.1", "203.0.113.2"].map((c) => clients.clientOf("127.0.0.1", c));
    assert.deepEqual(behind, ["203.0.113.1", "203.0.113.2"]);
    const stranger = ["203.0.113.1", "203.0.113.2", "203.0.113.3"].map((c) => clients.clientOf("198.51.100.7", c));
    assert.deepEqual(new Set(stranger), new Set(["198.51.100.7"]));
    // Addresses of one IPv6 /64 are one client.
    assert.equal(clients.clientOf("2001:db8::1", undefined), clients.clientOf("2001:db8::ffff:2", undefined));
  });

  it("holds maxConnections connections per peer (IPv6 by /64), none counted for a trusted proxy", () => {
    const clients = createWebClients(LIMITS, { now: () => 0 });
    const one = clients.connect("2001:db8::1");
    assert.ok(one);
    assert.ok(clients.connect("2001:db8::2"));
    assert.equal(clients.connect("2001:db8::3"), null, "the /64 holds its share");
    assert.ok(clients.connect("198.51.100.1"), "another peer still connects");
    one();
    assert.ok(clients.connect("2001:db8::4"));
    for (let i = 0; i < 10; i++) assert.ok(clients.connect("::ffff:127.0.0.1"));
    assert.equal(clients.size().connections, 2);
  });
});
