// Address ⇄ JID mapping (docs/design.md §Contract, Addressing; XEP-0106 JID Escaping).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  addressToJid, domainOf, escapeLocalpart, jidToAddress, parseBareJid, parseMailAddress, readTypedAddress, unescapeLocalpart, xmppUri,
} from "../../../src/core/addresses.ts";
import type { MailAddress } from "../../../src/core/types.ts";

const GW = "mail.jabber.example.org";
const BS = "\\";

/** A validated address, failing the test when the fixture itself is not one. */
function addr(value: string): MailAddress {
  const parsed = parseMailAddress(value);
  assert.ok(parsed, `fixture ${JSON.stringify(value)} should be a valid address`);
  return parsed;
}

describe("escapeLocalpart / unescapeLocalpart (XEP-0106 §5 examples)", () => {
  // Left: the unescaped localpart (the node before the last @ in the XEP table); right: its escaped form.
  const examples: [string, string][] = [
    ["space cadet", "space\\20cadet"],
    ['call me "ishmael"', "call\\20me\\20\\22ishmael\\22"],
    ["at&t guy", "at\\26t\\20guy"],
    ["d'artagnan", "d\\27artagnan"],
    ["/.fanboy", "\\2f.fanboy"],
    ["::foo::", "\\3a\\3afoo\\3a\\3a"],
    ["<foo>", "\\3cfoo\\3e"],
    ["user@host", "user\\40host"],
    ["c:\\net", "c\\3a\\net"],
    ["c:\\\\net", "c\\3a\\\\net"],
    ["c:\\cool stuff", "c\\3a\\cool\\20stuff"],
    ["c:\\5commas", "c\\3a\\5c5commas"],
  ];
  for (const [raw, escaped] of examples) {
    it(`${JSON.stringify(raw)} ⇄ ${JSON.stringify(escaped)}`, () => {
      assert.equal(escapeLocalpart(raw), escaped);
      assert.equal(unescapeLocalpart(escaped), raw);
    });
  }

  it("escapes a backslash that would start an escape sequence as \\5c (call\\20me)", () => {
    const raw = `call${BS}20me`;
    assert.equal(escapeLocalpart(raw), `call${BS}5c20me`);
    assert.equal(unescapeLocalpart(`call${BS}5c20me`), raw);
  });

  it("leaves a backslash alone when no escape sequence follows it", () => {
    assert.equal(escapeLocalpart(`foo${BS}bar`), `foo${BS}bar`);
    assert.equal(escapeLocalpart(`${BS}2plus${BS}2is${BS}4`), `${BS}2plus${BS}2is${BS}4`);
    assert.equal(escapeLocalpart(`foo${BS}41`), `foo${BS}41`);
    assert.equal(escapeLocalpart(`trailing${BS}`), `trailing${BS}`);
  });

  it("treats an upper-case sequence like a lower-case one, so it still round-trips", () => {
    assert.equal(unescapeLocalpart(`a${BS}2Fb`), "a/b");
    assert.equal(escapeLocalpart(`a${BS}2Fb`), `a${BS}5c2Fb`);
    assert.equal(unescapeLocalpart(escapeLocalpart(`a${BS}2Fb`)), `a${BS}2Fb`);
  });

  it("unescapes only the ten recognised sequences", () => {
    assert.equal(unescapeLocalpart(`a${BS}41b${BS}zz${BS}2`), `a${BS}41b${BS}zz${BS}2`);
    assert.equal(unescapeLocalpart(`${BS}5c${BS}5c`), `${BS}${BS}`);
  });

  it("leaves characters outside the table, including UTF-8 and %, untouched", () => {
    assert.equal(escapeLocalpart("jérôme+tag%x.y_z"), "jérôme+tag%x.y_z");
  });
});

describe("parseMailAddress", () => {
  it("accepts ordinary, tagged, quoted and UTF-8 addresses and keeps their case", () => {
    for (const value of [
      "alice@example.com", "Alice.Smith@Example.COM", "bob+tag@example.com", "o'brien@example.ie",
      '"john doe"@example.com', "jérôme@exämple.fr", "用户@例子.广告", "root@localhost", "x-y_z=1/2@sub-1.example.co.uk",
    ]) {
      assert.equal(parseMailAddress(value), value, value);
    }
  });

  it("rejects what is not an address", () => {
    for (const value of [
      "", "alice", "@example.com", "alice@", "alice@@", "a b@example.com", "alice@exa mple.com",
      "alice@-example.com", "alice@example-.com", "alice@example..com", "alice@example.com.", "alice@.example.com",
      "x@[192.0.2.1]", "<alice@example.com>", `${"a".repeat(65)}@example.com`, `a@${"b".repeat(64)}.com`,
    ]) {
      assert.equal(parseMailAddress(value), null, JSON.stringify(value));
    }
  });

  it("rejects control characters anywhere (NUL, CR, LF, ESC, DEL)", () => {
    for (const c of [0, 9, 10, 13, 27, 127]) {
      const ch = String.fromCharCode(c);
      assert.equal(parseMailAddress(`ali${ch}ce@example.com`), null, `U+${c.toString(16)} in local part`);
      assert.equal(parseMailAddress(`alice@exam${ch}ple.com`), null, `U+${c.toString(16)} in domain`);
    }
    assert.equal(parseMailAddress("alice@example.com\r\nBcc: eve@example.net"), null);
  });

  it("counts the 64-octet local-part limit in UTF-8 bytes (RFC 5321 §4.5.3.1)", () => {
    assert.equal(parseMailAddress(`${"a".repeat(64)}@example.com`), `${"a".repeat(64)}@example.com`);
    assert.equal(parseMailAddress(`${"é".repeat(32)}@example.com`), `${"é".repeat(32)}@example.com`);
    assert.equal(parseMailAddress(`${"é".repeat(33)}@example.com`), null);
  });

  it("rejects an unquoted local part carrying a second address (one recipient only: a@x, b@y)",
    () => {
      for (const value of ["a@x,b@y", "a@b@example.com", "a,b@example.com", "a<b>@example.com", "a;b@example.com"]) {
        assert.equal(parseMailAddress(value), null, value);
      }
    });
});

describe("domainOf", () => {
  it("is the lower-cased part after the last @", () => {
    assert.equal(domainOf(addr("Alice@Example.COM")), "example.com");
    assert.equal(domainOf(addr('"a@b"@Example.org')), "example.org");
  });
});

describe("addressToJid", () => {
  it("escapes the whole address as the localpart at the component domain", () => {
    assert.equal(addressToJid(addr("alice@example.com"), GW), `alice${BS}40example.com@${GW}`);
  });

  it("folds the case (RFC 7622 §3.3), so a correspondent is one contact on every server", () => {
    assert.equal(addressToJid(addr("Alice.Smith@Example.COM"), GW), `alice.smith${BS}40example.com@${GW}`);
  });

  it("escapes quotes, spaces and slashes of a quoted local part", () => {
    assert.equal(addressToJid(addr('"john doe/x"@example.com'), GW), `${BS}22john${BS}20doe${BS}2fx${BS}22${BS}40example.com@${GW}`);
  });
});

describe("jidToAddress", () => {
  it("maps the XEP-0106 form back, ignoring a resource and the case of the component domain", () => {
    assert.equal(jidToAddress(`alice${BS}40example.com@${GW}`, GW), "alice@example.com");
    assert.equal(jidToAddress(`alice${BS}40example.com@${GW.toUpperCase()}/phone`, GW), "alice@example.com");
    assert.equal(jidToAddress(`Alice${BS}40Example.com@${GW}`, GW), "Alice@Example.com");
  });

  it("accepts the old transport form, split on the last %", () => {
    assert.equal(jidToAddress(`alice%example.com@${GW}`, GW), "alice@example.com");
    assert.equal(jidToAddress(`alice%example.com@${GW}/res`, GW), "alice@example.com");
    assert.equal(jidToAddress(`a%b%example.com@${GW}`, GW), "a%b@example.com");
  });

  it("prefers the escaped @ over a % in the local part", () => {
    assert.equal(jidToAddress(`a%b${BS}40example.com@${GW}`, GW), "a%b@example.com");
  });

  // Regression (found by the property tests): a quoted local part holding an @ made the % form unreadable.
  it("reads the % form of an address whose quoted local part holds an @", () => {
    assert.equal(jidToAddress(`"a${BS}40b"%example.com@${GW}`, GW), '"a@b"@example.com');
    assert.equal(jidToAddress(`a${BS}40b%evil.example@${GW}`, GW), null, "an unquoted @ is still no address");
  });

  it("is null for a JID at another domain", () => {
    assert.equal(jidToAddress(`alice${BS}40example.com@jabber.example.org`, GW), null);
    assert.equal(jidToAddress(`alice${BS}40example.com@evil.${GW}`, GW), null);
    assert.equal(jidToAddress(`alice%example.com@${GW}.evil.net`, GW), null);
    assert.equal(jidToAddress(`alice${BS}40example.com@mail.jabber.example.org.evil`, GW), null);
  });

  it("is null when the localpart does not carry a valid address", () => {
    for (const jid of [
      GW, `@${GW}`, `alice@${GW}`, `%example.com@${GW}`, `alice%@${GW}`, `alice${BS}40@${GW}`,
      `${BS}40example.com@${GW}`, `a${BS}20b${BS}40example.com@${GW}`, `alice%exa mple.com@${GW}`,
    ]) {
      assert.equal(jidToAddress(jid, GW), null, jid);
    }
  });

  it("is null for an escaped control character or an injected header", () => {
    assert.equal(jidToAddress(`alice${BS}40example.com\r\nBcc:eve${BS}40evil.net@${GW}`, GW), null);
  });

  it("does not turn a JID into two recipients",
    () => {
      assert.equal(jidToAddress(`a${BS}40x,b${BS}40y@${GW}`, GW), null);
      assert.equal(jidToAddress(`a${BS}40x${BS}3cb${BS}3e@${GW}`, GW), null);
    });
});

describe("address ⇄ JID round trip", () => {
  const ugly = [
    "alice@example.com",
    "Alice.Smith@Example.COM",
    "bob+newsletters@example.com",
    "o'brien@example.ie",
    "d'artagnan&co@example.fr",
    '"john doe"@example.com',
    '"a@b"@example.com',
    '"c:\\\\net"@example.com',
    '"<weird>"@example.com',
    '"call\\20me"@example.com',
    "a/b@example.com",
    "a%b@example.com",
    '"user\\5cx"@example.com',
    '"trailing\\\\"@example.com',
    "jérôme@exämple.fr",
    "用户@例子.广告",
    "UPPER@EXAMPLE.ORG",
    "x.y-z_1=2?{3}~|!#$*^`@sub.example.museum",
  ];
  for (const value of ugly) {
    it(JSON.stringify(value), () => {
      const address = addr(value);
      const jid = addressToJid(address, GW);
      assert.ok(jid.endsWith(`@${GW}`));
      const local = jid.slice(0, -GW.length - 1);
      // XEP-0106: no raw character from the escape table is left in the localpart.
      assert.doesNotMatch(local, /[ "&'/:<>@]/);
      // The JID is case-folded (RFC 7622 §3.3): the address comes back the same but for case.
      assert.equal(jidToAddress(jid, GW), value.toLowerCase());
      assert.equal(jidToAddress(`${jid}/resource`, GW), value.toLowerCase());
    });
  }
});

describe("parseBareJid", () => {
  it("lower-cases and trims a bare JID", () => {
    assert.equal(parseBareJid(" Toto@Jabber.Example.org "), "toto@jabber.example.org");
    assert.equal(parseBareJid("toto@jabber.tcweb.org"), "toto@jabber.tcweb.org");
  });

  it("keeps an escaped localpart", () => {
    assert.equal(parseBareJid(`alice${BS}40example.com@${GW}`), `alice${BS}40example.com@${GW}`);
  });

  it("rejects full JIDs, domain-only JIDs, whitespace, controls and bad domains", () => {
    for (const value of [
      "", "toto@example.org/phone", "example.org", "@example.org", "to to@example.org", "toto@exa mple.org",
      `to${String.fromCharCode(0)}to@example.org`, "toto@example.org\n", "toto@-example.org", "toto@example..org",
      "a@b@c.org",
    ]) {
      // "toto@example.org\n" is trimmed first, so it is valid: check that one separately.
      if (value === "toto@example.org\n") continue;
      assert.equal(parseBareJid(value), null, JSON.stringify(value));
    }
    assert.equal(parseBareJid("toto@example.org\n"), "toto@example.org");
    assert.equal(parseBareJid(`to\nto@example.org`), null);
  });
});

describe("xmppUri (RFC 5122 §2.2)", () => {
  it("percent-encodes what nodeid does not allow, the XEP-0106 backslash first, UTF-8 octet by octet", () => {
    const uri = (a: string) => xmppUri(addressToJid(addr(a), GW));
    assert.equal(uri("alice@example.com"), `xmpp:alice%5C40example.com@${GW}`);
    assert.equal(uri("o'brien+tag@example.com"), `xmpp:o%5C27brien+tag%5C40example.com@${GW}`);
    assert.equal(uri("a#b?c%d@example.com"), `xmpp:a%23b%3Fc%25d%5C40example.com@${GW}`);
    assert.equal(uri("jürgen@example.de"), `xmpp:j%C3%BCrgen%5C40example.de@${GW}`);
    assert.equal(xmppUri(GW as never), `xmpp:${GW}`);
  });
  it("decodes back to the same JID", () => {
    const jid = addressToJid(addr("x&y@example.com"), GW);
    assert.equal(decodeURIComponent(xmppUri(jid).slice("xmpp:".length)), jid);
  });
});

describe("readTypedAddress", () => {
  it("takes an address as people type it, and our contact JIDs in either form", () => {
    assert.equal(readTypedAddress("  <Alice@Example.com> ", GW), "Alice@Example.com");
    assert.equal(readTypedAddress("mailto:bob@example.org", GW), "bob@example.org");
    assert.equal(readTypedAddress(`bob${BS}40example.org@${GW}`, GW), "bob@example.org");
    assert.equal(readTypedAddress(`bob%example.org@${GW}`, GW), "bob@example.org");
    assert.equal(readTypedAddress(`nobody@${GW}`, GW), null, "our own domain names contacts only");
    assert.equal(readTypedAddress("not an address", GW), null);
  });
});
