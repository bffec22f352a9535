// What the content filter's answer means for a mail (docs/design.md §Spam): pure, no I/O.
// rspamd's actions (https://rspamd.com/doc/faq.html#what-are-rspamd-actions): `reject` refuses the mail,
// `soft reject` and `greylist` ask the sender to come back later, `add header` and `rewrite subject`
// mark it as spam, `no action` passes it.
import type { SpamVerdict } from "./types.ts";

export type SpamDecision =
  | { kind: "refuse"; code: 550 | 451; text: string }
  /** `spam`: marked in the chat, or held for a mailbox that holds spam */
  | { kind: "accept"; verdict: SpamVerdict; spam: boolean };

export type FilterOutcome = { kind: "verdict"; verdict: SpamVerdict } | { kind: "unavailable"; why: string };

export function judgeSpam(outcome: FilterOutcome, unavailable: "tempfail" | "accept"): SpamDecision {
  if (outcome.kind === "unavailable") {
    // Our trouble, never the sender's fault (invariant 1): 451, or the mail passes unchecked and says so.
    if (unavailable === "tempfail") return { kind: "refuse", code: 451, text: "4.7.0 Temporary failure while checking the mail for spam; try again later" };
    return { kind: "accept", spam: false, verdict: { action: null, score: null, required: null, symbols: [], unfiltered: outcome.why } };
  }
  const { verdict } = outcome;
  switch (verdict.action) {
    // RFC 3463 X.7.1: delivery not authorized, message refused.
    case "reject": return { kind: "refuse", code: 550, text: "5.7.1 Message refused as spam" };
    case "soft reject":
    case "greylist": return { kind: "refuse", code: 451, text: "4.7.1 Message deferred by the spam filter; try again later" };
    case "add header":
    case "rewrite subject": return { kind: "accept", verdict, spam: true };
    default: return { kind: "accept", verdict, spam: false };
  }
}

/** The verdict in words for the web page and commands: `add header, score 6 / 15: GTUBE, …`. */
export function describeVerdict(v: SpamVerdict): string {
  if (v.unfiltered) return `not checked (${v.unfiltered})`;
  const score = v.score === null ? "" : `, score ${v.score}${v.required === null ? "" : ` / ${v.required}`}`;
  return `${v.action ?? "no answer"}${score}${v.symbols.length ? `: ${v.symbols.slice(0, 12).join(", ")}` : ""}`;
}
