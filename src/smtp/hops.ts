// Mail loops (RFC 5321 §6.3): every relay adds a `Received:` trace field, so a mail that carries too many
// has been going round. Postfix refuses at its hop_count_limit (50) with `554 5.4.0 too many hops`
// (RFC 3463 X.4.0: routing problem); the same here, counted on the header section as received.

const RECEIVED = /^received[ \t]*:/i;

/** How many `Received:` fields the header section (up to the first empty line) holds. */
export function countReceived(raw: Buffer): number {
  let count = 0;
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(0x0a, start);
    if (end === -1) end = raw.length;
    const lineEnd = end > start && raw[end - 1] === 0x0d ? end - 1 : end;
    // RFC 5322 §2.1: the header section ends at the first empty line.
    if (lineEnd === start) break;
    // A field name starts in column 0; continuation lines start with white space (§2.2.3); the obsolete
    // syntax allows blanks before the colon (§4.5.3).
    if (RECEIVED.test(raw.subarray(start, Math.min(lineEnd, start + 32)).toString("latin1"))) count++;
    start = end + 1;
  }
  return count;
}
