// The corpus: every specimen in test/corpus/ goes through parseMail → mailToChat and must
// give exactly the chat message checked in next to it. The expected files are the specification: after
// `UPDATE_CORPUS=1 node --test test/unit/corpus.test.ts` rewrites them, read every changed one by eye.
//
// Conventions: the gateway accepted each mail at ACCEPTED and delivers it a second later; quoted history
// is collapsed (the default); the gateway has a web page for it (PUBLIC_URL), so a mail the chat shows less of
// ends with that page's URL; attachments are not sent as files; a `Return-Path: <>` header stands for the null envelope sender (RFC 5321
// §4.4: the delivering MTA records the envelope there).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { readMail } from "../../src/mail/parse.ts";
import { mailToChat } from "../../src/core/translate.ts";

const DIR = new URL("../corpus/", import.meta.url);
const ACCEPTED = new Date("2026-11-25T12:00:00.000Z");
const UPDATE = process.env.UPDATE_CORPUS === "1";
const XML_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

/** What the user sees, written the way a mail is: a few header lines, a blank line, the body. */
async function render(raw: Buffer): Promise<string> {
  const { mail, structure } = await readMail(raw);
  const head = raw.subarray(0, raw.indexOf("\r\n\r\n") + 2).toString("latin1");
  const nullSender = /^Return-Path:[ \t]*<>[ \t]*$/im.test(head);
  const chat = mailToChat({
    mail, id: "corpus.0", fromJid: "correspondent@mail.example.org", toJid: "toto@jabber.example.org",
    acceptedAt: ACCEPTED, now: new Date(ACCEPTED.getTime() + 1_000), maxBodyBytes: 16 * 1024, nullSender,
    fullMailUrl: "https://mail.example.org/m/PAGE", parts: structure?.parts ?? null,
  });
  assert.match(chat.body, XML_CHAR, "body is XML 1.0 text");
  assert.ok(Buffer.byteLength(chat.body) <= 16 * 1024, "body within the chat limit");
  return [
    `from: ${mail.fromAddress ?? "(none)"}`,
    `nick: ${chat.nick ?? "(none)"}`,
    `automatic: ${mail.automatic || nullSender ? "yes" : "no"}`,
    `list: ${mail.listId ?? "(none)"}`,
    `delay: ${chat.delay?.toISOString() ?? "(none)"}`,
    "",
    chat.body,
    "",
  ].join("\n");
}

describe("corpus: parse → translate gives the checked-in chat message", () => {
  const specimens = readdirSync(DIR).filter((f) => f.endsWith(".eml")).sort();

  it("has at least 30 specimens, each with its expected output", () => {
    assert.ok(specimens.length >= 30, `${specimens.length} specimens`);
    if (!UPDATE) for (const f of specimens) assert.ok(existsSync(new URL(expectedName(f), DIR)), `${expectedName(f)} exists`);
  });

  for (const file of specimens) {
    it(file, async () => {
      const actual = await render(readFileSync(new URL(file, DIR)));
      const expectedUrl = new URL(expectedName(file), DIR);
      if (UPDATE) writeFileSync(expectedUrl, actual);
      assert.equal(actual, readFileSync(expectedUrl, "utf8"));
    });
  }
});

function expectedName(eml: string): string {
  return eml.replace(/\.eml$/, ".expected.txt");
}
