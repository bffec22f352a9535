// Chat commands (docs/design.md §Chat commands): words typed to the gateway's own JID, for clients without
// XEP-0050 ad-hoc commands (Conversations, Dino, Monal), as Biboumi and Slidge offer them. A message is read
// as `word args`; `help` lists what the writer may run. Each command is a plain object; lists of them come
// from several services and are joined here.
import type { BareJid } from "../core/types.ts";

export interface ChatCommand {
  /** the first word, lower case, e.g. "mail", "block" */
  word: string;
  /** e.g. "mail ADDRESS" */
  usage: string;
  /** one line for `help` */
  help: string;
  /** only for ADMIN_JIDS */
  admin?: boolean;
  /** the answer, as plain text (sent back as a chat message from the gateway's JID) */
  run(user: BareJid, args: string): Promise<string>;
}

export interface ChatDispatcherDeps {
  commands: ChatCommand[];
  isAdmin(jid: BareJid): boolean;
  /** true when `jid` owns an enabled mailbox */
  hasMailbox(jid: BareJid): Promise<boolean>;
  /** the one answer an account without a mailbox gets, whatever it typed: how to get one */
  noMailbox(jid: BareJid): Promise<string>;
}

/** The answer to one line a user typed to the gateway. */
export type ChatDispatcher = (user: BareJid, line: string) => Promise<string>;

const HELP: ChatCommand = { word: "help", usage: "help", help: "this list", run: async () => "" };
/** An unknown word is quoted back at most this long. */
const QUOTE_MAX = 40;

export function createChatDispatcher(deps: ChatDispatcherDeps): ChatDispatcher {
  const byWord = new Map<string, ChatCommand>();
  for (const command of [HELP, ...deps.commands]) {
    const word = command.word.toLowerCase();
    // One meaning a word: two lists claiming it is a wiring mistake, found at start-up.
    if (byWord.has(word)) throw new Error(`chat command "${word}" is defined twice`);
    byWord.set(word, command);
  }
  const line = (c: ChatCommand) => `  ${c.usage} — ${c.help}`;

  function help(admin: boolean): string {
    const all = [...byWord.values()];
    const mine = all.filter((c) => !c.admin);
    const theirs = admin ? all.filter((c) => c.admin) : [];
    return ["Commands (send one as a message here):", ...mine.map(line),
      ...(theirs.length ? ["Administrator commands:", ...theirs.map(line)] : []),
      ...(byWord.has("mail") ? ["Example: mail alice@example.com"] : [])].join("\n");
  }

  return async (user, typed) => {
    const admin = deps.isAdmin(user);
    // Administrators run their commands with or without a mailbox; anyone else needs one first.
    if (!admin && !(await deps.hasMailbox(user))) return deps.noMailbox(user);
    // A leading "/" or "!" is how some clients' users type commands: the same word.
    const text = typed.trim().replace(/^[/!]/, "");
    const space = text.search(/\s/u);
    const word = (space < 0 ? text : text.slice(0, space)).toLowerCase();
    const args = space < 0 ? "" : text.slice(space).trim();
    if (word === "help" || word === "?" || word === "") return help(admin);
    const command = byWord.get(word);
    if (!command || (command.admin && !admin)) {
      const quoted = word.length > QUOTE_MAX ? `${[...word].slice(0, QUOTE_MAX).join("")}…` : word;
      return `"${quoted}" is not a command here. Send "help" for the list.`;
    }
    return command.run(user, args);
  };
}
