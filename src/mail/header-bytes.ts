// Raw 8-bit bytes in header fields that are not UTF-8 (old mailers write Latin-1 names and subjects).
// RFC 6532 allows only UTF-8 there; mailparser reads anything else as U+FFFD. Mail programs (Thunderbird,
// mutt) read such a field in the message's own charset, else windows-1252: so do we, line by line,
// before parsing. Only what the parser reads changes; the bytes as received are kept as they came.

import { TextDecoder } from "node:util";

const MAX_HEADER = 256 * 1024;

/** `raw` with each header line that is not valid UTF-8 re-encoded from its likely charset into UTF-8. */
export function repairHeaderBytes(raw: Buffer): Buffer {
  const pieces = repairHeaderPieces(raw);
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** The same in pieces to be read one after the other: the body stays where it is, never copied. */
export function repairHeaderPieces(raw: Buffer): Buffer[] {
  const head = raw.subarray(0, MAX_HEADER);
  const end = headerEnd(head);
  if (!head.subarray(0, end).some((b) => b >= 0x80)) return [raw]; // the common case: nothing to do
  const fallback = fallbackDecoder(head.subarray(0, end).toString("latin1"));
  const lines: Buffer[] = [];
  let start = 0;
  while (start < end) {
    const nl = head.indexOf(0x0a, start);
    const stop = nl === -1 || nl >= end ? end : nl + 1;
    lines.push(repairLine(head.subarray(start, stop), fallback));
    start = stop;
  }
  return [...lines, raw.subarray(end)];
}

/** Valid UTF-8 sequences stay; each run of other non-ASCII bytes is decoded with `fallback`. */
function repairLine(line: Buffer, fallback: TextDecoder): Buffer {
  if (!line.some((b) => b >= 0x80)) return line;
  const out: Buffer[] = [];
  let plain = 0; // start of bytes copied as they are
  let i = 0;
  while (i < line.length) {
    if (line[i]! < 0x80) { i++; continue; }
    const n = utf8Length(line, i);
    if (n > 0) { i += n; continue; }
    let j = i;
    while (j < line.length && line[j]! >= 0x80 && utf8Length(line, j) === 0) j++;
    out.push(line.subarray(plain, i), Buffer.from(fallback.decode(line.subarray(i, j)), "utf8"));
    plain = i = j;
  }
  out.push(line.subarray(plain));
  return Buffer.concat(out);
}

/** Length of the well-formed UTF-8 sequence at `i` (RFC 3629 §4: no overlongs, no surrogates, ≤ U+10FFFF), or 0. */
function utf8Length(b: Buffer, i: number): number {
  const lead = b[i]!;
  const n = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const second = b[i + 1]!;
  if (lead === 0xe0 && second < 0xa0) return 0; // overlong
  if (lead === 0xed && second > 0x9f) return 0; // surrogate
  if (lead === 0xf0 && second < 0x90) return 0; // overlong
  if (lead === 0xf4 && second > 0x8f) return 0; // above U+10FFFF
  return n;
}

/** Where the header section ends (RFC 5322 §2.1: the first empty line), or the whole buffer. */
function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf("\r\n\r\n");
  const lf = buf.indexOf("\n\n");
  const ends = [crlf, lf].filter((i) => i !== -1);
  return ends.length ? Math.min(...ends) : buf.length;
}

/** The charset of the top-level Content-Type when it is a known 8-bit one, else windows-1252 (WHATWG
 * Encoding §5: what "latin1" and "iso-8859-1" mean in practice). */
function fallbackDecoder(head: string): TextDecoder {
  const charset = /^content-type:[^\n]*?charset="?([A-Za-z0-9_.:-]+)/im.exec(head)?.[1]?.toLowerCase();
  if (charset && !/^(utf-?8|us-ascii|ascii|utf-?7)$/.test(charset)) {
    try {
      return new TextDecoder(charset);
    } catch {
      // not a charset the WHATWG Encoding Standard knows
    }
  }
  return new TextDecoder("windows-1252");
}
