// A blocked sender as the RCPT lookup carries it (docs/design.md §Spam): 48 bits of SHA-256 of the
// lower-cased address, so a mailbox's list costs 8 bytes an entry in memory however long the addresses
// are. Two addresses share a value with probability 2^-48 a pair: one mailbox's 1000 blocks make a
// stranger collide about once in 3 × 10^11.
import { createHash } from "node:crypto";

export function senderHash(address: string): number {
  return createHash("sha256").update(address.toLowerCase(), "utf8").digest().readUIntBE(0, 6);
}
