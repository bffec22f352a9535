// Blocked senders once the mail is read (docs/design.md §Spam): at RCPT only the envelope sender can be
// compared; a list or a newsletter sends each mail from another envelope address (VERP), so the From
// address is compared after DATA too. A recipient whose user blocked it gets no delivery.
import { senderHash } from "./sender-hash.ts";
import type { Recipient } from "./types.ts";

/** The recipients whose user did not block `fromAddress` (the mail's From), and those who did. */
export function splitBlocked(recipients: Recipient[], fromAddress: string | null): { kept: Recipient[]; blocked: Recipient[] } {
  if (!fromAddress || !recipients.some((r) => r.blocked?.length)) return { kept: recipients, blocked: [] };
  const hash = senderHash(fromAddress);
  const kept: Recipient[] = [];
  const blocked: Recipient[] = [];
  // A bounce address speaks about mail we sent: its report is the sending user's, never blocked here.
  for (const r of recipients) (!r.bounceOf && r.blocked?.includes(hash) ? blocked : kept).push(r);
  return { kept, blocked };
}
