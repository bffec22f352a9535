// Calendar invitations (RFC 5545 iCalendar, RFC 5546 iTIP methods) as a short readable summary.
// Deliberately minimal: unfolding, property parameters, text escapes, dates. No recurrence expansion.

interface Property { name: string; params: Map<string, string>; value: string }

/** Summary of the first VEVENT of an iCalendar object, or null when there is none. Never throws. */
export function summariseCalendar(ics: string): string | null {
  const props = parseLines(ics);
  const method = props.find((p) => p.name === "METHOD")?.value.toUpperCase() ?? "";
  const begin = props.findIndex((p) => p.name === "BEGIN" && p.value.toUpperCase() === "VEVENT");
  if (begin === -1) return null;
  const end = props.findIndex((p, i) => i > begin && p.name === "END" && p.value.toUpperCase() === "VEVENT");
  const event = props.slice(begin + 1, end === -1 ? undefined : end);
  // Properties of nested components (VALARM) are not the event's.
  const own = topLevel(event);
  const get = (name: string) => own.find((p) => p.name === name);
  const what = unescapeText(get("SUMMARY")?.value ?? "") || "(untitled event)";
  const lines = [`${heading(method, get("STATUS")?.value)}: ${what}`];
  const start = get("DTSTART");
  if (start) lines.push(`When: ${when(start, get("DTEND"))}${get("RRULE") ? " (repeats)" : ""}`);
  const where = unescapeText(get("LOCATION")?.value ?? "");
  if (where) lines.push(`Where: ${where}`);
  const organiser = get("ORGANIZER");
  if (organiser) lines.push(`Organiser: ${person(organiser)}`);
  if (method === "REPLY") {
    const attendee = get("ATTENDEE");
    if (attendee) lines.push(`Answer: ${person(attendee)} ${(attendee.params.get("PARTSTAT") ?? "").toLowerCase() || "replied"}`);
  }
  return lines.join("\n");
}

/** RFC 5546 §1.4: what the method asks of the reader. */
function heading(method: string, status: string | undefined): string {
  if (method === "CANCEL" || status?.toUpperCase() === "CANCELLED") return "Cancelled event";
  if (method === "REPLY") return "Answer to an invitation";
  if (method === "REQUEST") return "Invitation";
  return "Event";
}

/** RFC 5545 §3.1: unfold (CRLF followed by one space or tab), then split each line into name, params, value. */
function parseLines(ics: string): Property[] {
  const unfolded = ics.replace(/\r?\n[ \t]/g, "");
  const out: Property[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$/.exec(line);
    if (!m) continue;
    const params = new Map<string, string>();
    // Parameter values may be quoted and contain ";" or ":" (RFC 5545 §3.2).
    for (const p of m[2]!.matchAll(/;([A-Za-z0-9-]+)=("[^"]*"|[^;]*)/g)) params.set(p[1]!.toUpperCase(), p[2]!.replace(/^"|"$/g, ""));
    out.push({ name: m[1]!.toUpperCase(), params, value: m[3]! });
  }
  return out;
}

function topLevel(props: Property[]): Property[] {
  let depth = 0;
  return props.filter((p) => {
    if (p.name === "BEGIN") depth++;
    const mine = depth === 0;
    if (p.name === "END") depth = Math.max(0, depth - 1);
    return mine && p.name !== "END";
  });
}

/** RFC 5545 §3.3.11: \n, \, \; and \\ escapes; line breaks folded to spaces for a one-line field. */
function unescapeText(value: string): string {
  return value.replace(/\\([nN,;\\])/g, (_, c: string) => (c === "n" || c === "N" ? " " : c)).replace(/\s+/g, " ").trim();
}

/** "Organiser Name <address>" from CN and a mailto: value (RFC 5545 §3.8.4.3). */
function person(p: Property): string {
  const address = p.value.replace(/^mailto:/i, "").trim();
  const name = p.params.get("CN")?.trim();
  return name && address ? `${name} <${address}>` : name || address;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/** A start and optional end as written, with the time zone they are in (RFC 5545 §3.3.4, §3.3.5). */
function when(start: Property, end: Property | undefined): string {
  const s = dateTime(start);
  if (!s) return start.value;
  const e = end && dateTime(end);
  if (s.allDay) {
    // DTEND of an all-day event is exclusive (RFC 5545 §3.6.1): a one-day event ends the next day.
    const last = e && e.allDay ? new Date(e.utc.getTime() - 86_400_000) : null;
    return last && last.getTime() > s.utc.getTime() ? `${s.day} – ${dayOf(last)} (all day)` : `${s.day} (all day)`;
  }
  const zone = s.zone;
  if (!e) return `${s.day} ${s.time} (${zone})`;
  const sameDay = e.day === s.day && e.zone === zone;
  return sameDay ? `${s.day} ${s.time}–${e.time} (${zone})` : `${s.day} ${s.time} (${zone}) – ${e.day} ${e.time} (${e.zone})`;
}

function dateTime(p: Property): { day: string; time: string; zone: string; allDay: boolean; utc: Date } | null {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(p.value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map((v) => Number(v ?? 0)) as number[];
  const utc = new Date(Date.UTC(y!, mo! - 1, d!));
  if (Number.isNaN(utc.getTime())) return null;
  const allDay = m[4] === undefined;
  // A floating time (no Z, no TZID) is local to wherever the reader is (RFC 5545 §3.3.5, form #1).
  const zone = m[7] === "Z" ? "UTC" : p.params.get("TZID") ?? "local time";
  const time = `${String(h).padStart(2, "0")}:${String(mi).padStart(2, "0")}`;
  return { day: dayOf(utc), time, zone, allDay, utc };
}

function dayOf(date: Date): string {
  return `${WEEKDAYS[date.getUTCDay()]} ${date.toISOString().slice(0, 10)}`;
}
