// Who a network client is (src/core/client-address.ts): one spelling, the key its budgets count under, and
// the address a trusted proxy names.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addressSet, clientKey, forwardedClient, normaliseIp } from "../../../src/core/client-address.ts";

describe("client addresses", () => {
  it("spells an IPv4-mapped IPv6 address as IPv4, in lower case", () => {
    assert.equal(normaliseIp("::ffff:192.0.2.7"), "192.0.2.7");
    assert.equal(normaliseIp("::FFFF:192.0.2.7"), "192.0.2.7");
    assert.equal(normaliseIp("2001:DB8::1"), "2001:db8::1");
    assert.equal(normaliseIp(undefined), "");
  });

  it("counts IPv4 by address and IPv6 by its /64, whatever its spelling", () => {
    assert.equal(clientKey("192.0.2.7"), "192.0.2.7");
    assert.equal(clientKey("::ffff:192.0.2.7"), "192.0.2.7");
    const a = clientKey("2001:db8:1:2:aaaa::1");
    assert.equal(a, "2001:db8:1:2::/64");
    assert.equal(clientKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"), a);
    assert.equal(clientKey("2001:DB8:1:2::9"), a);
    assert.notEqual(clientKey("2001:db8:1:3::1"), a);
    assert.equal(clientKey("::1"), "0:0:0:0::/64");
    assert.equal(clientKey("64:ff9b::192.0.2.7"), "64:ff9b:0:0::/64");
    assert.equal(clientKey("fe80::1%eth0"), "fe80:0:0:0::/64");
    assert.equal(clientKey("not an address"), "not an address");
  });

  it("holds addresses and networks of both families, an IPv4-mapped address as IPv4", () => {
    const set = addressSet(["192.0.2.7", "10.0.0.0/8", "2001:db8::/32", "::1"]);
    for (const yes of ["192.0.2.7", "::ffff:192.0.2.7", "10.200.3.4", "2001:db8:ffff::1", "::1"]) assert.ok(set.has(yes), yes);
    for (const no of ["192.0.2.8", "11.0.0.1", "2001:db9::1", "::2", "", "garbage"]) assert.ok(!set.has(no), no);
  });

  it("believes X-Forwarded-For only from a trusted proxy, and only its right-most hop that is not a trusted proxy", () => {
    const trusted = addressSet(["127.0.0.1", "10.0.0.2"]);
    assert.equal(forwardedClient("198.51.100.9", "203.0.113.5", trusted), "198.51.100.9", "a stranger's header is its own word");
    assert.equal(forwardedClient("127.0.0.1", undefined, trusted), "127.0.0.1");
    assert.equal(forwardedClient("::ffff:127.0.0.1", "203.0.113.5", trusted), "203.0.113.5");
    // The client wrote the left entries itself; the proxy appended what it saw.
    assert.equal(forwardedClient("127.0.0.1", "1.1.1.1, 2.2.2.2, 203.0.113.5", trusted), "203.0.113.5");
    assert.equal(forwardedClient("127.0.0.1", "203.0.113.5, 10.0.0.2", trusted), "203.0.113.5", "a chain of trusted proxies");
    assert.equal(forwardedClient("127.0.0.1", "[2001:db8::5]:4711", trusted), "2001:db8::5");
    assert.equal(forwardedClient("127.0.0.1", "2.2.2.2, unknown", trusted), "127.0.0.1", "a hop that is no address: the proxy itself");
    assert.equal(forwardedClient("127.0.0.1", "10.0.0.2", trusted), "127.0.0.1", "only trusted hops: the peer");
  });
});
