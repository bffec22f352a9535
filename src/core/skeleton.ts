// Confusable names (Unicode TR39 §4): two names are confusable when their skeletons are equal.
// skeleton(X) = NFD(map(NFD(X))), with map from confusables.txt. This module ships a bounded subset of
// that table (src/core/confusables.ts: Latin, Cyrillic, Greek and Armenian look-alikes of Latin letters
// and digits), and widens two steps for mail names, which are compared without case (docs/design.md
// §Contract): NFKD instead of NFD, which also folds fullwidth, mathematical and other
// compatibility forms, and lower case at the end, so that `0`/`O`/`o` and `1`/`I`/`l` meet. Pure.
import { CONFUSABLES } from "./confusables.ts";

/** The string a name is compared by: equal skeletons look alike. */
export function skeleton(name: string): string {
  let out = "";
  for (const ch of name.normalize("NFKD")) {
    // Default_Ignorable code points (TR39 §4 uses them as "ignored") vanish: they draw nothing.
    if (/\p{Default_Ignorable_Code_Point}/u.test(ch)) continue;
    const lower = ch.toLowerCase();
    out += CONFUSABLES.get(ch) ?? CONFUSABLES.get(lower) ?? lower;
  }
  // A dot above (U+0307) over i and j draws nothing new; over other letters it is easily missed.
  return out.normalize("NFKD").toLowerCase().replace(/\u0307/gu, "");
}

/** `local@domain`'s key for comparing with the other mailboxes of that domain. */
export function addressSkeleton(local: string, domain: string): string {
  return `${skeleton(local)}@${domain.toLowerCase()}`;
}
