// SMTP replies with RFC 3463 enhanced status codes written out in the text (smtp-server adds none
// itself: an error without `responseCode` from a hook would become a permanent 550 — invariant 1).

export class SmtpReply extends Error {
  override name = "SmtpReply";
  readonly responseCode: number;
  constructor(code: number, text: string) {
    super(text);
    this.responseCode = code;
  }
}

export const replies = {
  /** RFC 5321 §4.2.2/RFC 3463 §3.8: a domain we do not serve — relaying denied. */
  relayDenied: () => new SmtpReply(554, "5.7.1 Relay access denied"),
  /** RFC 3463 §3.2 X.1.1: no such mailbox here. Refused at RCPT, never accepted then bounced. */
  noMailbox: () => new SmtpReply(550, "5.1.1 No such mailbox here"),
  // RFC 3463 X.7.1: the recipient's user blocked this sender (docs/design.md §Spam).
  blockedSender: () => new SmtpReply(550, "5.7.1 The recipient does not accept mail from this sender"),
  badRecipient: () => new SmtpReply(501, "5.1.3 Bad recipient address syntax"),
  badSender: () => new SmtpReply(501, "5.1.7 Bad sender address syntax"),
  /** RFC 5321 §4.5.3.1.10 and RFC 3463 X.5.3: too many recipients; the earlier ones stay accepted. */
  tooManyRecipients: (max: number) => new SmtpReply(452, `4.5.3 Too many recipients (at most ${max} a message)`),
  /** RFC 1870 / RFC 3463 X.3.4: message too big for the system. */
  tooBig: (max: number) => new SmtpReply(552, `5.3.4 Message size exceeds the limit of ${max} bytes`),
  /** Transient trouble on our side: the sender keeps the mail and retries. */
  /** Mail loop (RFC 5321 §6.3, Postfix hop_count_limit); RFC 3463 X.4.0. */
  tooManyHops: (hops: number) => new SmtpReply(554, `5.4.0 Too many hops (${hops} Received: headers), mail loop?`),
  tryLater: () => new SmtpReply(451, "4.3.0 Temporary local problem, please try again later"),
  shuttingDown: () => new SmtpReply(421, "4.3.2 Service shutting down, please try again later"),
} as const;

/** The success line after the commit: `250 2.0.0 queued as <token>`. */
export const queuedAs = (token: string) => `2.0.0 queued as ${token}`;

// RFC 2034 §3 (ENHANCEDSTATUSCODES, advertised in EHLO): every reply but the greeting and the EHLO/HELO
// answer begins its text with an RFC 3463 status code, 3xx excepted (§2: classes 2, 4 and 5 only). Ours
// above carry theirs; smtp-server writes its own replies bare, and smtp-server-adapter.ts gives each the
// code below before it goes out.
const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;

/** smtp-server's reply contexts (its third argument to send) that name the outcome. */
const BY_CONTEXT: Record<string, string> = {
  MAIL_FROM_OK: "2.1.0", // X.1.0 other address status: the sender is fine
  RCPT_TO_OK: "2.1.5", // X.1.5 destination address valid
  DATA_OK: "2.6.0",
  TOO_MANY_RECIPIENTS: "4.5.3",
  MAILBOX_SYNTAX_ERROR: "5.1.3",
  SENDER_SYNTAX_ERROR: "5.1.7",
  MESSAGE_TOO_BIG: "5.3.4",
  NOT_AUTHORIZED: "5.7.0",
};

/** smtp-server's own texts that say more than their reply code. */
const BY_TEXT: [RegExp, string][] = [
  [/^Timeout\b/i, "4.4.2"], // its socketTimeout: X.4.2 bad connection (Postfix: "421 4.4.2 … timeout exceeded")
  [/shutting down|too many connected clients/i, "4.3.2"], // X.3.2 system not accepting network messages
  // Policy, as Postfix answers too many errors: talking before the greeting, HTTP, unknown commands.
  [/too soon|HTTP requests|too many unrecognized|too many unauthenticated/i, "4.7.0"],
  [/line too long/i, "4.5.2"], // X.5.2 syntax error (a command line over maxCommandLength)
  [/^Error: Bad recipient/i, "5.1.3"],
  [/^Error: Bad sender/i, "5.1.7"],
];

/** By reply code (RFC 3463 §3.6 X.5.x protocol status for the 50x family). */
const BY_CODE: Record<number, string> = {
  451: "4.3.0", 452: "4.5.3", 500: "5.5.2", 501: "5.5.4", 502: "5.5.1", 503: "5.5.1", 504: "5.5.4",
  530: "5.7.0", 538: "5.7.0", 550: "5.7.0", 552: "5.3.4", 554: "5.0.0",
};

/** The RFC 3463 code for a reply smtp-server writes itself: by its context, its text, its code, its class. */
export function enhancedCodeFor(code: number, text: string, context?: string | false): string {
  return (context ? BY_CONTEXT[context] : undefined) ?? BY_TEXT.find(([re]) => re.test(text))?.[1] ?? BY_CODE[code] ?? `${Math.floor(code / 100)}.0.0`;
}

/** A reply's text with its RFC 3463 code in front (RFC 2034 §3), unless it has one or must have none:
 * 3xx, and the greeting and EHLO/HELO lines (smtp-server sends those with context false). */
export function withEnhancedCode(code: number, text: string | string[] | null | undefined, context?: string | false):
  string | string[] | null | undefined {
  if (code < 200 || (code >= 300 && code < 400) || (context === false && code < 400)) return text;
  const one = (line: string) => (ENHANCED.test(line) ? line : `${enhancedCodeFor(code, line, context)} ${line}`.trimEnd());
  return Array.isArray(text) ? text.map(one) : one(text ?? "");
}
