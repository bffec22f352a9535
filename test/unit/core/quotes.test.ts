// Quoted history collapsed to one line; what stays keeps XEP-0393 "> " quotes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { collapseQuotes, hiddenLine } from "../../../src/core/quotes.ts";

const text = (...lines: string[]) => lines.join("\n");

describe("collapseQuotes", () => {
  it("leaves text without quotes unchanged", () => {
    const t = text("Hello,", "", "no quotes here.", "a > b is not a quote", "-- ", "sig");
    assert.equal(collapseQuotes(t), t);
  });

  it("collapses a bottom quote with its English attribution, counting lines with text", () => {
    assert.equal(collapseQuotes(text("Yes.", "", "On Mon, 1 Jan 2024 at 10:00, Bob <bob@x.example> wrote:", "> one", ">", "> two", ">> three", "> ", "")),
      text("Yes.", "", "[quoted text hidden: 4 lines]", ""));
  });

  it("collapses a top quote and keeps the answer below it (bottom-posting)", () => {
    assert.equal(collapseQuotes(text("On 24/11/2026 18:40, Toto wrote:", "> a", "> b", "> c", "> d", "", "Answer.")),
      text("[quoted text hidden: 5 lines]", "", "Answer."));
  });

  it("recognises an attribution Gmail wrapped over two lines, with a blank line before the quote", () => {
    assert.equal(collapseQuotes(text("Thanks", "", "On Tue, Nov 24, 2026 at 8:01 PM Toto Example <toto@jabber.example.org>", "wrote:", "", "> x", "> y", "> z", "> w")),
      text("Thanks", "", "[quoted text hidden: 6 lines]"));
  });

  it("recognises French, German, Spanish, Italian, Dutch and Portuguese attributions", () => {
    for (const attribution of [
      "Le mar. 24 nov. 2026 à 09:00, Jürgen <j@x.example> a écrit :",
      "Am 24.11.2026 um 10:15 schrieb Marie Curie <marie@x.example>:",
      "El mar, 24 nov 2026 a las 9:00, Ana escribió:",
      "Il giorno mar 24 nov 2026 alle 9:00 Luca ha scritto:",
      "Op di 24 nov 2026 om 09:00 schreef Jan <jan@x.example>:",
      "Em ter., 24 de nov. de 2026 às 09:00, Rui escreveu:",
    ]) {
      assert.equal(collapseQuotes(text("Ok.", attribution, "> 1", "> 2", "> 3", "> 4")), text("Ok.", "[quoted text hidden: 5 lines]"), attribution);
    }
  });

  it("does not take a line ending in 'wrote:' for an attribution when no quote follows it", () => {
    const t = text("This is what she wrote:", "", "the end");
    assert.equal(collapseQuotes(t), t);
  });

  it("does not join text and an attribution across a blank line", () => {
    assert.equal(collapseQuotes(text("Yes.", "", "Bob wrote:", "> 1", "> 2", "> 3", "> 4")), text("Yes.", "", "[quoted text hidden: 5 lines]"));
  });

  it("keeps short quotes that interleaved answers refer to, collapses long ones", () => {
    const t = text("> Free on Saturday?", "", "Yes.", "", "> a", "> b", "> c", "> d", "", "No.");
    assert.equal(collapseQuotes(t), text("> Free on Saturday?", "", "Yes.", "", "[quoted text hidden: 4 lines]", "", "No."));
  });

  it("collapses a short quote at the end: nothing answers it", () => {
    assert.equal(collapseQuotes(text("Sure.", "", "> ok?")), text("Sure.", "", "[quoted text hidden: 1 line]"));
  });

  it("hides everything after Outlook's separator or header block, in several languages", () => {
    for (const history of [
      ["-----Original Message-----", "From: A", "Sent: today", "Subject: x", "", "old"],
      ["________________________________", "From: Toto <t@x.example>", "Sent: Tuesday, November 24, 2026 4:15 PM", "To: Jane", "Subject: RE: Report", "", "old"],
      ["From: Toto <t@x.example>", "Date: Tuesday, November 24, 2026", "Subject: Report", "old"],
      ["-----Ursprüngliche Nachricht-----", "Von: Toto", "Gesendet: Dienstag", "Betreff: Angebot", "old"],
      ["De : Toto <t@x.example>", "Envoyé : mardi 24 novembre 2026 16:15", "À : Jane", "Objet : Rapport", "old"],
      ["*From:* Toto", "*Sent:* Tuesday", "*Subject:* Report", "old"],
    ]) {
      const hidden = history.filter((l) => l.trim() !== "").length;
      assert.equal(collapseQuotes(text("Done.", "", "Jane", "", ...history)), text("Done.", "", "Jane", "", hiddenLine(hidden)), history[0]);
    }
  });

  it("keeps the header block of a forward: it introduces what is to be read", () => {
    const forward = text("FYI", "", "---------- Forwarded message ---------", "From: A <a@x.example>", "Date: Tue", "Subject: Booking", "To: me", "", "Booking 88412");
    assert.equal(collapseQuotes(forward), forward);
    const outlookForward = text("FYI", "", "From: A <a@x.example>", "Sent: Tue", "Subject: Booking", "", "Booking 88412");
    assert.equal(collapseQuotes(outlookForward, { forwarded: true }), outlookForward);
    assert.equal(collapseQuotes(outlookForward), text("FYI", "", "[quoted text hidden: 4 lines]"));
  });

  it("does not take a lone 'From:' line for a header block", () => {
    const t = text("From: the team", "Thanks for all the fish.", "", "Subject: unrelated");
    assert.equal(collapseQuotes(t), t);
  });

  it("stays fast and never throws on huge lines and long runs (a backtracking regex would overflow the stack)", () => {
    const started = performance.now();
    for (const t of ["On " + "x".repeat(5_000_000), "Am " + "schrieb ".repeat(500_000), `> x\n${"\n".repeat(100_000)}> y`,
      "-".repeat(1_000_000), "From: a\n".repeat(50_000), "> q\nanswer\n".repeat(50_000)]) {
      assert.equal(typeof collapseQuotes(t), "string");
    }
    assert.ok(performance.now() - started < 5_000, "bounded time");
  });

  it("is only the hidden line when the whole text is quoted", () => {
    assert.equal(collapseQuotes(text("> a", "> b", "> c", "> d")), "[quoted text hidden: 4 lines]");
  });
});
