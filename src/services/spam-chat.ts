// The spam words of the gateway's chat (docs/design.md §Spam): typed to the gateway's own JID, answered
// in plain text. The dispatcher that reads the first word takes this list as it is.
import type { BareJid } from "../core/types.ts";
import type { SpamServices } from "./spam.ts";
import type { ChatCommand } from "./chat-commands.ts";


export function createSpamChatCommands(deps: { spam: Pick<SpamServices, "block" | "unblock" | "held" | "release"> }): ChatCommand[] {
  const needs = (usage: string, run: (user: BareJid, args: string) => Promise<string>) =>
    (user: BareJid, args: string) => (args.trim() ? run(user, args.trim()) : Promise.resolve(`Usage: ${usage}`));
  return [
    { word: "spam", usage: "spam ADDRESS", help: "this sender's mail is spam: block it, and teach the spam filter its latest mail",
      run: needs("spam ADDRESS", (u, a) => deps.spam.block(u, a, true)) },
    { word: "block", usage: "block ADDRESS", help: "refuse mail from this sender to your mailbox",
      run: needs("block ADDRESS", (u, a) => deps.spam.block(u, a, false)) },
    { word: "unblock", usage: "unblock ADDRESS", help: "accept mail from this sender again",
      run: needs("unblock ADDRESS", (u, a) => deps.spam.unblock(u, a)) },
    { word: "held", usage: "held", help: "list the mail held as spam", run: (u) => deps.spam.held(u) },
    { word: "release", usage: "release ID", help: "deliver mail held as spam (\"release all\" for all of it)",
      run: needs("release ID", (u, a) => deps.spam.release(u, a)) },
  ];
}
