// "This is spam", "block this sender", held mail (docs/design.md §Spam): what a user decides for the
// mailboxes they own, never for another's. Answers are plain text; the XMPP commands (on a contact's
// JID and on the gateway's) and the chat commands (spam-chat.ts) show them as they are.
import { parseMailAddress } from "../core/addresses.ts";
import { describeVerdict } from "../core/spam-policy.ts";
import type { BareJid } from "../core/types.ts";
import type { MailboxStore } from "../store/mailboxes.ts";
import type { SpamStore } from "../store/spam.ts";
import type { CommandOutcome, CommandSpec } from "../xmpp/commands.ts";

export interface SpamServicesDeps {
  mailboxes: Pick<MailboxStore, "ownedBy">;
  spam: SpamStore;
  /** rspamd's /learnspam (mail/rspamd.ts): "learned" or what went wrong; null or absent: no learning */
  learnSpam?: ((raw: Buffer) => Promise<string | null>) | null;
}

const NO_MAILBOX = "You have no mailbox on this gateway.";

export function createSpamServices(deps: SpamServicesDeps) {
  // Only the mailboxes the requesting account owns: nobody blocks or releases for another.
  const owned = async (user: BareJid) => (await deps.mailboxes.ownedBy(user)).map((m) => m.address as string);
  const address = (typed: string) => parseMailAddress(typed.trim().replace(/^mailto:/i, "").replace(/^<(.*)>$/, "$1"));

  async function block(user: BareJid, typed: string, learn: boolean): Promise<string> {
    const sender = address(typed);
    if (!sender) return `"${typed.trim().slice(0, 100)}" is not an e-mail address (expected name@example.org).`;
    const mine = await owned(user);
    if (mine.length === 0) return NO_MAILBOX;
    // The envelope sender of its latest mail too: mail is refused at RCPT, where only that is known.
    const latest = await deps.spam.latestFrom(mine, sender);
    const senders = [sender, ...(latest?.mailFrom ? [latest.mailFrom] : [])];
    if (await deps.spam.block(mine, sender, senders) === "full") return "Your list of blocked senders is full; unblock some first.";
    const also = latest?.mailFrom && latest.mailFrom.toLowerCase() !== sender.toLowerCase() ? ` (and its envelope sender ${latest.mailFrom})` : "";
    const words = [`Blocked: mail from ${sender}${also} to ${mine.join(", ")} is now refused.`];
    if (learn) {
      if (!deps.learnSpam) words.push("There is no spam filter to teach.");
      else if (!latest) words.push(`No mail from ${sender} to learn from.`);
      else {
        const learned = await deps.learnSpam(latest.raw);
        words.push(learned === "learned" ? "Its latest mail was learned as spam." : `The spam filter did not learn it: ${learned ?? "no controller configured"}.`);
      }
    }
    return words.join(" ");
  }

  async function unblock(user: BareJid, typed: string): Promise<string> {
    const sender = address(typed);
    if (!sender) return `"${typed.trim().slice(0, 100)}" is not an e-mail address (expected name@example.org).`;
    const mine = await owned(user);
    if (mine.length === 0) return NO_MAILBOX;
    return (await deps.spam.unblock(mine, sender)) > 0 ? `Unblocked: mail from ${sender} is accepted again.` : `${sender} was not blocked.`;
  }

  async function held(user: BareJid): Promise<string> {
    if ((await owned(user)).length === 0) return NO_MAILBOX;
    const { rows, total } = await deps.spam.held(user);
    if (total === 0) return "No mail is held as spam.";
    return [`${total} mail${total > 1 ? "s" : ""} held as spam${total > rows.length ? ` (the latest ${rows.length})` : ""}; "release ID" delivers one, "release all" all:`,
      ...rows.map(heldLine)].join("\n");
  }

  async function release(user: BareJid, typed: string): Promise<string> {
    const word = typed.trim().toLowerCase();
    const id = Number(word);
    if (word !== "all" && !(Number.isSafeInteger(id) && id > 0)) return "Say which: release ID (a number from \"held\"), or release all.";
    if ((await owned(user)).length === 0) return NO_MAILBOX;
    const n = await deps.spam.release(user, word === "all" ? null : [id]);
    if (n === 0) return word === "all" ? "No mail is held as spam." : `No held mail ${id} of yours.`;
    return n === 1 ? "Released: it follows as a chat message." : `Released ${n} mails: they follow as chat messages.`;
  }

  const outcome = (text: string): CommandOutcome => ({ note: text, ...(/^(Blocked|Unblocked|Released)/.test(text) ? {} : { type: "warn" as const }) });
  const contactCommands: CommandSpec[] = [
    { node: "spam-report", name: "This is spam", admin: false, contact: true,
      run: async (jid, _v, contact) => outcome(await block(jid, contact ?? "", true)) },
    { node: "spam-block", name: "Block this sender", admin: false, contact: true,
      run: async (jid, _v, contact) => outcome(await block(jid, contact ?? "", false)) },
    { node: "spam-unblock", name: "Unblock this sender", admin: false, contact: true,
      run: async (jid, _v, contact) => outcome(await unblock(jid, contact ?? "")) },
  ];
  const gatewayCommands: CommandSpec[] = [{
    node: "spam-held", name: "Mail held as spam", admin: false,
    async form(jid) {
      const { rows } = await deps.spam.held(jid);
      return { title: "Mail held as spam", instructions: rows.length ? "Choose the mail to deliver." : "No mail is held as spam.",
        fields: rows.length ? [{ var: "release", type: "list-single", label: "Deliver", required: true,
          options: [{ label: "All of them", value: "all" }, ...rows.map((r) => ({ label: heldLine(r).slice(0, 200), value: String(r.id) }))] }] : [] };
    },
    run: async (jid, values) => outcome(values.has("release") ? await release(jid, values.get("release") ?? "") : await held(jid)),
  }];

  return {
    block, unblock, held, release, contactCommands, gatewayCommands,
    /** For the status command: one line, or none when nothing is held. */
    async heldSummary(user: BareJid): Promise<string[]> {
      const { rows, total } = await deps.spam.held(user, 5);
      return total === 0 ? [] : [`Held as spam: ${total} (the "Mail held as spam" command, or "held" in the chat, lists and releases them).`, ...rows.map(heldLine)];
    },
  };
}

export type SpamServices = ReturnType<typeof createSpamServices>;

function heldLine(r: { id: number; from: string; subject: string; receivedAt: Date; spam: Parameters<typeof describeVerdict>[0] | null }): string {
  return `${r.id}: ${r.receivedAt.toISOString().slice(0, 16).replace("T", " ")} from ${r.from}: ${r.subject.slice(0, 80) || "(no subject)"}` +
    (r.spam ? ` [${describeVerdict(r.spam).slice(0, 120)}]` : "");
}
