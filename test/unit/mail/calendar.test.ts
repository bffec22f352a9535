// Calendar invitations as a readable summary (RFC 5545 iCalendar, RFC 5546 methods).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { summariseCalendar } from "../../../src/mail/calendar.ts";

const ics = (method: string, ...event: string[]) =>
  ["BEGIN:VCALENDAR", "VERSION:2.0", method && `METHOD:${method}`, "BEGIN:VEVENT", ...event, "END:VEVENT", "END:VCALENDAR", ""]
    .filter(Boolean).join("\r\n");

describe("summariseCalendar", () => {
  it("gives what, when with its time zone, where and the organiser of an invitation", () => {
    assert.equal(summariseCalendar(ics("REQUEST",
      "SUMMARY:Rehearsal\\, quartet", "DTSTART;TZID=Europe/Paris:20261201T100000", "DTEND;TZID=Europe/Paris:20261201T113000",
      "LOCATION:Salle Cortot\\; Paris", 'ORGANIZER;CN="Boulanger, Nadia":mailto:nadia@music.example')),
    [
      "Invitation: Rehearsal, quartet",
      "When: Tue 2026-12-01 10:00–11:30 (Europe/Paris)",
      "Where: Salle Cortot; Paris",
      "Organiser: Boulanger, Nadia <nadia@music.example>",
    ].join("\n"));
  });

  it("unfolds folded lines (RFC 5545 §3.1) and folds escaped line breaks into spaces", () => {
    const text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:A very long ti\r\n tle that was\r\n\t folded\\nover lines\r\nDTSTART:20261203T150000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    assert.equal(summariseCalendar(text), "Event: A very long title that was folded over lines\nWhen: Thu 2026-12-03 15:00 (UTC)");
  });

  it("writes UTC, floating and multi-day times, and says when an event repeats", () => {
    assert.match(summariseCalendar(ics("", "SUMMARY:x", "DTSTART:20261203T150000Z", "DTEND:20261203T160000Z", "RRULE:FREQ=WEEKLY"))!,
      /^When: Thu 2026-12-03 15:00–16:00 \(UTC\) \(repeats\)$/m);
    assert.match(summariseCalendar(ics("", "SUMMARY:x", "DTSTART:20261203T090000"))!, /^When: Thu 2026-12-03 09:00 \(local time\)$/m);
    assert.match(summariseCalendar(ics("", "SUMMARY:x", "DTSTART;TZID=America/New_York:20261231T220000", "DTEND;TZID=Europe/Paris:20270101T040000"))!,
      /^When: Thu 2026-12-31 22:00 \(America\/New_York\) – Fri 2027-01-01 04:00 \(Europe\/Paris\)$/m);
  });

  it("writes all-day events with an exclusive end (RFC 5545 §3.6.1)", () => {
    assert.match(summariseCalendar(ics("", "SUMMARY:x", "DTSTART;VALUE=DATE:20261224", "DTEND;VALUE=DATE:20261225"))!, /^When: Thu 2026-12-24 \(all day\)$/m);
    assert.match(summariseCalendar(ics("", "SUMMARY:x", "DTSTART;VALUE=DATE:20261224", "DTEND;VALUE=DATE:20261227"))!, /^When: Thu 2026-12-24 – Sat 2026-12-26 \(all day\)$/m);
  });

  it("says when an event is cancelled, and who answered what in a reply", () => {
    assert.match(summariseCalendar(ics("CANCEL", "SUMMARY:Standup", "DTSTART:20261203T150000Z"))!, /^Cancelled event: Standup$/m);
    assert.equal(summariseCalendar(ics("REPLY", "SUMMARY:Standup", "ATTENDEE;PARTSTAT=ACCEPTED;CN=Bob:mailto:bob@x.example")),
      "Answer to an invitation: Standup\nAnswer: Bob <bob@x.example> accepted");
  });

  it("ignores properties of nested components (VALARM) and survives garbage", () => {
    const text = ics("REQUEST", "SUMMARY:Real", "BEGIN:VALARM", "DESCRIPTION:Reminder", "LOCATION:not this", "END:VALARM");
    assert.equal(summariseCalendar(text), "Invitation: Real");
    assert.equal(summariseCalendar("not a calendar at all"), null);
    assert.equal(summariseCalendar(ics("REQUEST", "DTSTART:2026-12-03", "SUMMARY:")), "Invitation: (untitled event)\nWhen: 2026-12-03");
    assert.equal(summariseCalendar("BEGIN:VEVENT\r\nSUMMARY:unterminated"), "Event: unterminated");
  });
});
