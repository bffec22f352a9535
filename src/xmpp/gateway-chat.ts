// A message to the gateway's own JID is a chat command (docs/design.md §Chat commands). Each one with
// words counts against the XEP-0050 command rate of its account (and of its server, for other servers);
// its answer goes back as a chat message from the gateway's JID to the full JID that wrote.
import type { Element } from "@xmpp/component";
import type { BareJid } from "../core/types.ts";
import type { Logger } from "../log.ts";
import { bareOf } from "./gateway.ts";
import { messageError, noticeStanza, readChat } from "./stanzas.ts";

export interface GatewayChatDeps {
  send(stanza: Element): Promise<void>;
  /** words saying which command rate is spent, or null (commands.ts admit) */
  admit(jid: BareJid): string | null;
  /** the answer to one line; absent: this gateway takes no chat commands */
  answer?(user: BareJid, line: string): Promise<string>;
  log: Logger;
}

export function createGatewayChat(config: { domain: string }, deps: GatewayChatDeps): (stanza: Element) => Promise<void> {
  const refuse = async (stanza: Element, type: string, condition: string, text: string) => {
    const reply = messageError(stanza, type, condition, text);
    if (reply) await deps.send(reply);
  };

  return async (stanza) => {
    const chat = readChat(stanza);
    const user = bareOf(chat.from);
    // Chat states, receipts and markers are not commands; a headline expects no reply (RFC 6121 §5.2.2).
    if ((chat.body === null && !chat.encrypted) || !user || stanza.attrs.type === "headline") return;
    // RFC 6120 §8.3.3.18: past the rate, refused before any work, with the limit in words.
    const over = deps.admit(user);
    if (over) return refuse(stanza, "wait", "resource-constraint", over);
    if (chat.encrypted) {
      return refuse(stanza, "modify", "not-acceptable", `The gateway reads commands as plain text: ${chat.encrypted} messages cannot be read. Send it without end-to-end encryption.`);
    }
    if (!deps.answer) return refuse(stanza, "cancel", "feature-not-implemented", "This gateway takes no chat commands.");
    let text: string;
    try {
      text = await deps.answer(user, chat.body ?? "");
    } catch (err) {
      deps.log.error({ err: (err as Error).message, user }, "chat command failed");
      return refuse(stanza, "wait", "internal-server-error", "The gateway could not run this command; try again later.");
    }
    await deps.send(noticeStanza(config.domain, chat.from, text));
  };
}
