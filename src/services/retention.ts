// A user deletes their stored mail (docs/design.md §What is stored): the ad-hoc command "Delete my
// stored mail" (XEP-0050, with a confirmation field) and the chat command `forget` (with a confirmation
// word). Only the mail of the mailboxes the user owns, delivered to (or sent by) that very JID; mail
// still waiting for delivery stays and is delivered, and the answer says how much.
import type { BareJid, Form } from "../core/types.ts";
import type { PurgeResult } from "../store/retention.ts";
import type { CommandOutcome, CommandSpec } from "../xmpp/commands.ts";
import { isTrue } from "../xmpp/forms.ts";
import type { ChatCommand } from "./chat-commands.ts";


export interface RetentionServiceDeps {
  addressesOf(jid: string): Promise<string[]>;
  purge(address: string, options: { jid?: string; waiting: boolean; batch: number }): Promise<PurgeResult>;
}

export interface RetentionServiceConfig { retentionDays: number; batch: number }

/** The word that confirms `forget` in the chat. */
export const FORGET_CONFIRMATION = "everything";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Delete `user`'s stored mail; the answer in words. */
async function forgetAll(user: BareJid, config: RetentionServiceConfig, deps: RetentionServiceDeps): Promise<{ ok: boolean; text: string }> {
  const addresses = await deps.addressesOf(user);
  if (addresses.length === 0) return { ok: false, text: "You have no mailbox on this gateway." };
  const total: PurgeResult = { mails: 0, deliveries: 0, waiting: 0 };
  for (const address of addresses) {
    const r = await deps.purge(address, { jid: user, waiting: false, batch: config.batch });
    total.mails += r.mails;
    total.deliveries += r.deliveries;
    total.waiting += r.waiting;
  }
  const waiting = total.waiting > 0
    ? ` ${plural(total.waiting, "mail")} still waiting for delivery ${total.waiting === 1 ? "was" : "were"} kept: ${total.waiting === 1 ? "it is" : "they are"} delivered as usual; delete again afterwards.`
    : "";
  return { ok: true, text: `Deleted the stored mail of ${addresses.join(", ")}: ${plural(total.deliveries, "copy", "copies")} removed `
    + `(${plural(total.mails, "mail")} gone from the gateway; a mail also sent to another mailbox stays as theirs).${waiting}` };
}

/** XEP-0050: the user's command, one stage with a confirmation field (XEP-0004 boolean). */
export function createForgetCommand(config: RetentionServiceConfig, deps: RetentionServiceDeps): CommandSpec {
  return {
    node: "forget", name: "Delete my stored mail", admin: false,
    async form(): Promise<Form> {
      return {
        title: "Delete my stored mail",
        instructions: `The gateway keeps your mail ${config.retentionDays} days (the web links to it work as long), `
          + "then only what threads a late reply. This deletes all of it now, for every mailbox you own; "
          + "web links stop working and a late reply starts a new thread. Mail waiting for delivery is kept.",
        fields: [{ var: "confirm", type: "boolean", label: "Yes, delete my stored mail now", required: true, value: "0" }],
      };
    },
    async run(jid, values): Promise<CommandOutcome> {
      if (!isTrue(values.get("confirm"))) return { note: "Not confirmed: nothing was deleted.", type: "warn" };
      const r = await forgetAll(jid, config, deps);
      return { note: r.text, ...(r.ok ? {} : { type: "error" as const }) };
    },
  };
}

export function createRetentionChatCommands(config: RetentionServiceConfig, deps: RetentionServiceDeps): ChatCommand[] {
  return [{
    word: "forget",
    usage: `forget ${FORGET_CONFIRMATION}`,
    help: "delete the mail the gateway stores for you (mail waiting for delivery is kept)",
    async run(user, args) {
      if (args.trim().toLowerCase() !== FORGET_CONFIRMATION) {
        return `This deletes all the mail the gateway stores for you (kept ${config.retentionDays} days, then only what threads `
          + `a late reply): web links stop working and a late reply starts a new thread. To do it, send: forget ${FORGET_CONFIRMATION}`;
      }
      return (await forgetAll(user, config, deps)).text;
    },
  }];
}
