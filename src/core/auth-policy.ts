// What to do with a mail once SPF, DKIM and DMARC have spoken. Pure.

/** The facts the decision needs, read from mailauth's result (src/mail/auth.ts). */
export interface AuthFacts {
  /** the RFC 5322 From domain, lower case; null when there is none or several */
  fromDomain: string | null;
  /** DMARC result (RFC 7489 §11.2); null when not evaluated */
  dmarc: "pass" | "fail" | "none" | "temperror" | "permerror" | null;
  /** the policy the From domain publishes, when it has a DMARC record */
  policy: "none" | "quarantine" | "reject" | null;
  /** an SPF or DKIM pass aligned with the From domain (relaxed): authenticated even without DMARC */
  aligned: boolean;
  /** a DNS lookup failed temporarily where it mattered */
  spfTemperror: boolean;
  otherTemperror: boolean;
}

export type AuthMode = "mark" | "strict";

export type AuthDecision =
  | { kind: "accept"; verified: boolean; warning: string | null }
  | { kind: "refuse"; code: 451 | 550; enhanced: string; text: string };

export function judge(facts: AuthFacts, config: { mode: AuthMode; ourDomains: readonly string[] }): AuthDecision {
  const verified = facts.dmarc === "pass" || facts.aligned;
  // RFC 7208 §8.6 / RFC 7489 §6.6.3: a temporary DNS failure is answered with a 4xx so the sender
  // retries, unless the mail is authenticated anyway.
  if (!verified && (facts.dmarc === "temperror" || facts.spfTemperror || facts.otherTemperror)) {
    return { kind: "refuse", code: 451, enhanced: facts.spfTemperror ? "4.7.24" : "4.7.0",
      text: "Temporary DNS failure while authenticating the sender; try again later" };
  }
  // Mail claiming to come from our own domains must prove it: nobody else may write as our users.
  if (facts.fromDomain && config.ourDomains.includes(facts.fromDomain) && !verified) {
    return { kind: "refuse", code: 550, enhanced: "5.7.1", text: `Mail from ${facts.fromDomain} must be authenticated (SPF or DKIM)` };
  }
  if (facts.dmarc === "fail" && (facts.policy === "reject" || facts.policy === "quarantine")) {
    // DMARCbis (RFC 9989 §8.3): do not reject on p=reject alone by default; mark it for the reader.
    if (config.mode === "strict") {
      return { kind: "refuse", code: 550, enhanced: "5.7.1", text: `Rejected by DMARC policy of ${facts.fromDomain}` };
    }
    return { kind: "accept", verified: false,
      warning: `failed authentication: ${facts.fromDomain} did not send this (its policy says ${facts.policy})` };
  }
  return { kind: "accept", verified, warning: null };
}
