// The SMTP side of the memory budget (src/smtp/memory.ts): a client's share counts its address, an IPv6
// client by its /64 (core/client-address.ts), so one host cannot take more by changing its address.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SMTPServerSession } from "smtp-server";
import { createLogger } from "../../../src/log.ts";
import { createSmtpMemory } from "../../../src/smtp/memory.ts";

const MIB = 1024 * 1024;
const session = (remoteAddress: string) => ({ id: remoteAddress, remoteAddress }) as unknown as SMTPServerSession;

describe("the SMTP memory budget's share per client", () => {
  const memory = () => createSmtpMemory({ totalBytes: 100 * MIB, perClientBytes: 10 * MIB, trustedProxies: ["2001:db8:ffff::1"] },
    { log: createLogger("silent") });

  it("is one share for every address of an IPv6 /64, and another for the next /64", () => {
    const m = memory();
    const first = m.receive(session("2001:db8:1:1::a"), 8 * MIB, 25 * MIB);
    assert.equal(first.refused, false);
    assert.equal(m.admit(session("2001:db8:1:1:ffff::b"), 4 * MIB)?.responseCode, 451, "the same /64, another address");
    assert.equal(m.admit(session("2001:db8:1:2::a"), 4 * MIB), null, "the next /64");
    first.release();
    assert.equal(m.admit(session("2001:db8:1:1:ffff::b"), 4 * MIB), null, "given back");
  });

  it("is one share for an IPv4 address however it is spelled, and none for a trusted proxy (only the total)", () => {
    const m = memory();
    const held = m.receive(session("::ffff:192.0.2.1"), 8 * MIB, 25 * MIB);
    assert.equal(m.admit(session("192.0.2.1"), 4 * MIB)?.responseCode, 451);
    assert.equal(m.admit(session("192.0.2.2"), 4 * MIB), null);
    assert.equal(m.admit(session("2001:db8:ffff::1"), 20 * MIB), null, "a proxy carries many clients");
    held.release();
  });
});
