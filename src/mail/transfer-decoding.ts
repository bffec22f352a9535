// Content-Transfer-Encoding undone (RFC 2045 §6): a part's body as stored, back to its bytes. Pure, linear,
// never throws: what is not valid base64 or quoted-printable is skipped or kept as it came, the way the
// parser's own decoders (libbase64, libqp) read it, so a part decodes to the same bytes as it was listed with.

/** RFC 2045 §6.8: characters outside the alphabet are ignored; each run ended by padding is decoded on its
 * own (mailers that pad every line), as Buffer's decoder stops at the first padding. */
function base64(body: Buffer): Buffer {
  const text = body.toString("latin1").replace(/[^A-Za-z0-9+/=]+/g, "");
  const out = Buffer.allocUnsafe(Math.floor((text.length * 3) / 4) + 3);
  let n = 0;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf("=", start);
    if (end === -1) end = text.length;
    if (end > start) n += out.write(text.slice(start, end), n, "base64");
    start = end;
    while (start < text.length && text[start] === "=") start++;
  }
  return out.subarray(0, n);
}

const hex = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 0x37 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1);
const isWsp = (c: number | undefined) => c === 0x20 || c === 0x09;
const isEol = (c: number | undefined) => c === undefined || c === 0x0d || c === 0x0a;

/** RFC 2045 §6.7: whitespace at a line end was added in transport and goes (rule 3); `=` at a line end is
 * a soft line break (rule 5); `=XX` is a byte (rule 1); anything else, a lone `=` too, stays as it is. */
function quotedPrintable(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (isWsp(c)) {
      let j = i;
      while (isWsp(body[j])) j++;
      if (isEol(body[j])) { i = j - 1; continue; }
      while (i < j) out[n++] = body[i++]!;
      i--;
      continue;
    }
    if (c !== 0x3d) { out[n++] = c; continue; }
    let j = i + 1;
    while (isWsp(body[j])) j++;
    if (j >= body.length) { i = j; continue; }
    if (body[j] === 0x0d && body[j + 1] === 0x0a) { i = j + 1; continue; }
    if (body[j] === 0x0a) { i = j; continue; }
    const hi = hex(body[i + 1] ?? -1);
    const lo = hex(body[i + 2] ?? -1);
    if (hi >= 0 && lo >= 0) { out[n++] = hi * 16 + lo; i += 2; continue; }
    out[n++] = c;
  }
  return out.subarray(0, n);
}

/** The part's bytes: base64 and quoted-printable decoded, anything else (7bit, 8bit, binary, unknown) as is. */
export function decodeTransfer(body: Buffer, encoding: string): Buffer {
  const name = encoding.trim().toLowerCase();
  if (name === "base64") return base64(body);
  if (name === "quoted-printable") return quotedPrintable(body);
  return body;
}
