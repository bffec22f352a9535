// The URL scheme of the full mail on the web: the chat messages and the routes depend on it exactly.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { attachmentUrl, mailUrl, WEB_TOKEN } from "../../../src/core/links.ts";
import { newWebToken } from "../../../src/store/messages.ts";

const TOKEN = "A".repeat(43);

describe("mailUrl and attachmentUrl", () => {
  it("put the token under /m/ of PUBLIC_URL, with or without a trailing slash or a path", () => {
    assert.equal(mailUrl("https://mail.jabber.tcweb.org", TOKEN), `https://mail.jabber.tcweb.org/m/${TOKEN}`);
    assert.equal(mailUrl("https://mail.jabber.tcweb.org/", TOKEN), `https://mail.jabber.tcweb.org/m/${TOKEN}`);
    assert.equal(mailUrl("https://example.org/passerelle/", TOKEN), `https://example.org/passerelle/m/${TOKEN}`);
  });

  it("name an attachment by index and encoded file name", () => {
    assert.equal(attachmentUrl("https://m.example/", TOKEN, 0, "report.pdf"), `https://m.example/m/${TOKEN}/a/0/report.pdf`);
    assert.equal(attachmentUrl("https://m.example", TOKEN, 3, "été 2026/../x?.png"),
      `https://m.example/m/${TOKEN}/a/3/%C3%A9t%C3%A9%202026%2F..%2Fx%3F.png`);
    assert.equal(attachmentUrl("https://m.example", TOKEN, 1, null), `https://m.example/m/${TOKEN}/a/1/attachment`);
  });
});

describe("newWebToken", () => {
  it("is 32 random bytes in base64url: 43 characters of the URL-safe alphabet, never twice the same", () => {
    const tokens = Array.from({ length: 200 }, () => newWebToken());
    for (const t of tokens) {
      assert.match(t, WEB_TOKEN);
      assert.equal(Buffer.from(t, "base64url").length, 32);
    }
    assert.equal(new Set(tokens).size, tokens.length);
  });
});
