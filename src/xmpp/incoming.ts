// Stanzas the server routes to the component: errors about what we sent, users' messages to contacts
// (chat → mail), receipts and presence. Handled one sender at a time, in arrival order.
import type { Element } from "@xmpp/component";
import type { IncomingChat } from "../core/outbound.ts";
import type { Logger } from "../log.ts";
import { messageError, noticeStanza, NS, readChat, readError, type StanzaErrorInfo } from "./stanzas.ts";
import { bareOf } from "./gateway.ts";

/** What became of a user's message to a contact. */
export type ChatVerdict =
  | { kind: "queued" }
  | { kind: "ignored" }
  | { kind: "refused"; type: "cancel" | "modify" | "auth" | "wait"; condition: string; text: string;
      /** also said as a chat message from the contact, for clients that hide stanza error texts */
      notice?: string };

export interface RouterDeps {
  log: Logger;
  send(stanza: Element): Promise<void>;
  /** An error about one of our stanzas; `from` is who says so, stamped by the server (RFC 6120 §8.1.2.1). */
  onBounce(stanzaId: string, from: string, error: StanzaErrorInfo): void;
  onReceipt?(user: string, stanzaId: string): void;
  /** Must queue one sender's messages in the order it is called (RFC 6120 §10.1); may resolve later. */
  onChat?(chat: IncomingChat): Promise<ChatVerdict>;
  onPresence(stanza: Element): Promise<void>;
}

export function createStanzaRouter(deps: RouterDeps): (stanza: Element) => void {

  // RFC 6120 §10.1: stanzas from one entity arrive in order; handle them in that order too, so two
  // quick messages become two mails in the order written (and a limit refuses the later ones).
  const chains = new Map<string, Promise<void>>();
  function inOrder(key: string, task: () => Promise<void>): void {
    const next = (chains.get(key) ?? Promise.resolve()).then(task).catch((err: Error) =>
      deps.log.error({ err: err.message }, "message from a user not handled"));
    chains.set(key, next);
    void next.finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    });
  }

  /**
   * Hands the chat to onChat at once (synchronously, so in arrival order) and answers when its verdict
   * comes. onChat queues one sender's messages in the order it is called (queue/outbound.ts), so the next
   * message need not wait for this one to be queued: a burst is queued in runs.
   */
  function onUserMessage(stanza: Element): Promise<void> {
    const chat = readChat(stanza);
    // Chat states, receipts and markers carry no body: nothing to mail, nothing to answer.
    if (chat.body === null && !chat.encrypted) return Promise.resolve();
    const verdict: Promise<ChatVerdict> = deps.onChat
      ? deps.onChat(chat).catch((err: Error) => {
        deps.log.error({ err: err.message }, "outgoing message not queued");
        return { kind: "refused", type: "wait", condition: "internal-server-error", text: "The gateway could not queue your mail; please send it again later." };
      })
      : Promise.resolve({ kind: "refused", type: "cancel", condition: "feature-not-implemented", text: "This gateway does not send e-mail." });
    return verdict.then(async (v) => {
      if (v.kind !== "refused") return;
      const reply = messageError(stanza, v.type, v.condition, v.text);
      if (reply) await deps.send(reply).catch(() => undefined);
      if (v.notice && chat.from && chat.to) await deps.send(noticeStanza(chat.to, chat.from, v.notice)).catch(() => undefined);
    });
  }

  return (stanza: Element): void => {
    if (stanza.is("message") && stanza.attrs.type === "error" && stanza.attrs.id) {
      deps.onBounce(stanza.attrs.id, stanza.attrs.from ?? "", readError(stanza));
    } else if (stanza.is("message") && stanza.attrs.type !== "error" && stanza.attrs.type !== "groupchat") {
      const receipt = stanza.getChild("received", NS.receipts)?.attrs.id;
      const user = bareOf(stanza.attrs.from);
      if (typeof receipt === "string" && user) deps.onReceipt?.(user, receipt);
      // In the sender's order after its earlier stanzas; the answer is not waited for (above).
      inOrder(stanza.attrs.from ?? "", async () => {
        void onUserMessage(stanza).catch((err: Error) => deps.log.error({ err: err.message }, "message from a user not handled"));
      });
    } else if (stanza.is("presence")) {
      inOrder(stanza.attrs.from ?? "", () => deps.onPresence(stanza));
    }
  };
}
