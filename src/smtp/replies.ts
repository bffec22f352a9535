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
