// Presence badge renderings (src/core/badge-render.ts): escaped, self-contained, in the reader's language.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { badgeJson, badgeSnippet, badgeSvg, badgeText, pickLanguage } from "../../../src/core/badge-render.ts";

const since = new Date("2026-12-02T10:00:00Z");

describe("pickLanguage", () => {
  it("takes the first spoken language by weight, else English", () => {
    assert.equal(pickLanguage(undefined), "en");
    assert.equal(pickLanguage("fr-FR,fr;q=0.9,en;q=0.8"), "fr");
    assert.equal(pickLanguage("ja, de;q=0.5, fr;q=0.7"), "fr");
    assert.equal(pickLanguage("de;q=0, es"), "es");
    assert.equal(pickLanguage("zz,yy"), "en");
    assert.equal(pickLanguage("fr;q=abc, de"), "de");
  });
});

describe("badge renderings", () => {
  it("an SVG with the status in words, loading nothing, escaping the message", () => {
    const svg = badgeSvg({ status: "away", message: `<script>"x"</script>&`, since }, "en");
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /Away: &#60;script&#62;&#34;x&#34;&#60;\/script&#62;&#38;/);
    assert.doesNotMatch(svg, /<script|href|url\(|@import/);
  });
  it("says the status in the reader's language", () => {
    assert.match(badgeSvg({ status: "dnd", message: null, since }, "fr"), /Occupé/);
    assert.equal(badgeText({ status: "offline", message: null, since }, "de"), "Offline\n");
    assert.equal(badgeText({ status: "online", message: "hi", since }, "es"), "Conectado: hi\n");
  });
  it("JSON with status, message and since", () => {
    assert.deepEqual(JSON.parse(badgeJson({ status: "xa", message: null, since })), { status: "xa", message: null, since: "2026-12-02T10:00:00.000Z" });
  });
  it("a snippet that points at the SVG", () => {
    assert.equal(badgeSnippet("https://mail.example/presence/abc", { status: "online", message: null, since }, "en"),
      '<img src="https://mail.example/presence/abc.svg" alt="Online" height="20">');
  });
});
