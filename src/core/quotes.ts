// Quoted history in mail text, collapsed for chat. Pure: text in, text out.
//
// Three shapes of history are recognised:
// - RFC 3676 §4.5 / common practice: lines starting with ">" (any depth), with the attribution line a
//   client writes just above them ("On … wrote:", "Le … a écrit :", "Am … schrieb …:", …);
// - Outlook's top-posted history: a "-----Original Message-----" separator, or a header block
//   ("From: … / Sent: … / To: … / Subject: …", also in French and German) after which everything is history.
// What stays keeps its ">" prefixes: XEP-0393 §5.1.3 renders them as block quotes, nested by repeating ">".

export interface CollapseOptions {
  /** A forward (Fwd:/Fw:/TR:/WG:): the header block introduces what the sender wants read, keep it. */
  forwarded?: boolean;
}

/** Interleaved answers ("> question" / answer / "> question" / answer) keep quotes up to this many lines. */
const KEEP_INTERLEAVED_LINES = 3;
/** An attribution may be wrapped by the client over this many lines (Gmail wraps long names and addresses). */
const ATTRIBUTION_MAX_LINES = 3;

const QUOTED = /^[ \t]?>/;
/** Attributions, separators and header lines are short; longer lines are never tested against the
 * patterns below (a backtracking regex over a 10 MB line overflows the stack). */
const SHORT = 300;

/** "On … wrote:" and its translations; tested on the attribution joined into one line. */
const ATTRIBUTION = [
  /^On\b.{4,}\bwrote:$/i, // Thunderbird, Gmail, Apple Mail (en)
  /^Le\b.{4,}\ba écrit\s?:$/i, // fr
  /^Am\b.{4,}\bschrieb\b.{0,200}:$/i, // de ("Am … schrieb Alice:", "Am … schrieb Alice <a@x>:")
  /^El\b.{4,}\bescribió\s?:$/i, // es
  /^Il\b.{4,}\bha scritto\s?:$/i, // it
  /^Op\b.{4,}\bschreef\b.{0,200}:$/i, // nl
  /^Em\b.{4,}\bescreveu\s?:$/i, // pt
];
/** "Alice <a@x> wrote:" on one line of its own (mutt, older clients). */
const ATTRIBUTION_ONE_LINE = /^.{2,200}\bwrote:$/i;

/** Outlook separators; everything from here on is history. */
const SEPARATOR = /^\s*-{2,}\s*(Original Message|Message d'origine|Ursprüngliche Nachricht|Mensaje original|Messaggio originale|Oorspronkelijk bericht)\s*-{2,}\s*$/i;
/** A forward's own separator (Gmail, Thunderbird, Apple Mail, fr, de): the header block after it is content. */
const FORWARD_SEPARATOR = /^\s*(-{2,}\s*(Forwarded message|Message transféré|Weitergeleitete Nachricht|Mensaje reenviado)\b.*|Begin forwarded message:)\s*$/i;
/** A full-width rule Outlook writes above its header block. */
const RULE = /^_{20,}\s*$/;
const HEADER_FROM = /^\*?(From|De|Von|Van|Da)\s?:\*?\s/i;
const HEADER_SENT = /^\*?(Sent|Date|Envoyé|Gesendet|Datum|Enviado|Inviato|Verzonden)\s?:\*?\s/i;
const HEADER_SUBJECT = /^\*?(Subject|Objet|Betreff|Asunto|Oggetto|Onderwerp)\s?:\*?\s/i;

/** The one line that stands for a hidden block. */
export function hiddenLine(lines: number): string {
  return `[quoted text hidden: ${lines} ${lines === 1 ? "line" : "lines"}]`;
}

/** Collapse quoted history in `text` (LF line ends) into "[quoted text hidden: N lines]" lines. */
export function collapseQuotes(text: string, options: CollapseOptions = {}): string {
  const lines = text.split("\n");
  const out: string[] = [];
  // Outlook history first: it runs to the end of the text, whatever it contains. A forward is
  // not history: the header block after "Forwarded message" (or in a Fwd: mail) introduces content.
  const historyAt = options.forwarded ? -1 : outlookHistoryStart(lines);
  const end = historyAt === -1 ? lines.length : historyAt;
  let i = 0;
  while (i < end) {
    const attribution = attributionAt(lines, i, end);
    const start = attribution ? attribution.quoteStart : i;
    if (start < end && QUOTED.test(lines[start]!)) {
      let j = start;
      // A quoted block runs over blank lines only when more quoted lines follow them (one scan per run).
      while (j < end) {
        if (QUOTED.test(lines[j]!)) { j++; continue; }
        const next = nextNonBlank(lines, j, end);
        if (next === j || next === end || !QUOTED.test(lines[next]!)) break;
        j = next;
      }
      const quotedLines = j - start;
      const hidden = j - i;
      const interleaved = quotedLines <= KEEP_INTERLEAVED_LINES && hasTextAfter(lines, j, end);
      if (interleaved) out.push(...lines.slice(i, j));
      else out.push(hiddenLine(countText(lines, i, j) || hidden));
      i = j;
      continue;
    }
    out.push(lines[i]!);
    i++;
  }
  if (historyAt !== -1) {
    while (out.length && out[out.length - 1]!.trim() === "") out.pop();
    const hidden = countText(lines, historyAt, lines.length);
    if (out.length) out.push("");
    out.push(hiddenLine(hidden));
  }
  return out.join("\n");
}

/** An attribution starting at line `i` (possibly wrapped), followed by quoted lines after at most one blank. */
function attributionAt(lines: string[], i: number, end: number): { quoteStart: number } | null {
  if (lines[i]!.trim() === "" || QUOTED.test(lines[i]!)) return null;
  for (let n = 1; n <= ATTRIBUTION_MAX_LINES && i + n <= end; n++) {
    // A wrapped attribution has no blank or quoted line inside it.
    if (n > 1 && (lines[i + n - 1]!.trim() === "" || QUOTED.test(lines[i + n - 1]!))) return null;
    if (lines[i + n - 1]!.length > SHORT) return null;
    const joined = lines.slice(i, i + n).map((l) => l.trim()).join(" ");
    if (!ATTRIBUTION.some((re) => re.test(joined)) && !(n === 1 && ATTRIBUTION_ONE_LINE.test(joined))) continue;
    let q = i + n;
    while (q < end && q <= i + n + 1 && lines[q]!.trim() === "") q++;
    return q < end && QUOTED.test(lines[q]!) ? { quoteStart: q } : null;
  }
  return null;
}

/** Where Outlook's history begins: a separator line, or a From/Sent/Subject header block. */
function outlookHistoryStart(lines: string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length > SHORT) continue;
    if (SEPARATOR.test(line)) return i;
    if (FORWARD_SEPARATOR.test(line)) { i += 6; continue; }
    const at = RULE.test(line) ? i + 1 : i;
    if (at < lines.length && HEADER_FROM.test(lines[at]!) && isHeaderBlock(lines, at)) return i;
  }
  return -1;
}

/** A From: line followed, within the next five lines, by a sent/date line and a subject line. */
function isHeaderBlock(lines: string[], from: number): boolean {
  const next = lines.slice(from + 1, from + 6).filter((l) => l.length <= SHORT);
  return next.some((l) => HEADER_SENT.test(l)) && next.some((l) => HEADER_SUBJECT.test(l));
}

function nextNonBlank(lines: string[], i: number, end: number): number {
  while (i < end && lines[i]!.trim() === "") i++;
  return i;
}

function hasTextAfter(lines: string[], i: number, end: number): boolean {
  return nextNonBlank(lines, i, end) < end;
}

/** Lines with text in them: empty lines and lines that are only quote markers (">", "> >") do not count. */
function countText(lines: string[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (/[^\s>]/.test(lines[i]!)) n++;
  return n;
}
