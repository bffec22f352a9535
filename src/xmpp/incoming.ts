// Stanzas the server routes to the component: errors about what we sent, users' messages to contacts
// (chat → mail) and to the gateway itself (chat commands), receipts and presence. Each counts against its
// sender's budgets first (docs/design.md §Budgets), then waits in its sender's bounded queue and is handled
// in arrival order.
import type { Element } from "@xmpp/component";
import type { IncomingChat } from "../core/outbound.ts";
import type { Spent, StanzaBudget } from "../core/stanza-budget.ts";
import type { Logger } from "../log.ts";
import { messageError, noticeStanza, NS, readChat, readError, type StanzaErrorInfo } from "./stanzas.ts";
import { bareOf } from "./gateway.ts";
import type { SenderQueues } from "./sender-queues.ts";
import type { RoomAnswer } from "./rooms.ts";
import { privilegeOf } from "./privilege.ts";

const SUBSCRIPTION = new Set(["subscribe", "subscribed", "unsubscribe", "unsubscribed"]);

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
  /** The conference rooms our occupants are in (xmpp/rooms.ts): their messages are theirs to read. */
  rooms?: { knows(from: string): boolean; onMessage(stanza: Element): RoomAnswer };
  /** the gateway's own JID: messages to it are chat commands, handled by onGatewayMessage */
  domain?: string;
  /** A message to the gateway's own JID (docs/design.md §Chat commands), answered before the sender's next. */
  onGatewayMessage?(stanza: Element): Promise<void>;
  /** XEP-0356 §4.2: a permission announcement (trusted or not is the callee's call); never mailed. */
  onPrivilege?(stanza: Element, privilege: Element): void;
  /** Our own XEP-0356 message as the user, routed back to us: never mailed a second time. */
  isEcho?(stanza: Element): boolean;
  budget: StanzaBudget;
  queues: SenderQueues;
  /** What became of each stanza: accepted (queued) then handled, or the budget that refused it
   * (messages with words are answered, the rest dropped). */
  onStanza?(kind: "message" | "presence" | "error", outcome: Spent | "queue" | "busy" | "accepted" | "handled"): void;
}

export function createStanzaRouter(deps: RouterDeps): (stanza: Element) => void {

  /** RFC 6120 §10.1: one sender's stanzas are handled in their arrival order (its bare JID's queue). */
  const queueKey = (stanza: Element) => String(stanza.attrs.from ?? "").split("/")[0]!.toLowerCase();
  const failed = (err: Error) => deps.log.error({ err: err.message }, "stanza from a user not handled");
  const answer = (stanza: Element, spent: Spent | "queue" | "busy") => {
    // RFC 6120 §8.3.3: resource-constraint, type wait: the sender may try again later.
    const reply = messageError(stanza, "wait", "resource-constraint", deps.budget.text(spent, stanza.attrs.from));
    if (reply) void deps.send(reply).catch(() => undefined);
  };

  /**
   * Hands the chat to onChat at once (synchronously, so in arrival order) and answers when its verdict
   * comes. onChat queues one sender's messages in the order it is called (queue/outbound.ts), so the next
   * message need not wait for this one to be queued: a burst is queued in runs.
   */
  function onUserMessage(stanza: Element, chat = readChat(stanza)): Promise<void> {
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
    const from = stanza.attrs.from as string | undefined;
    if (stanza.is("message") && stanza.attrs.type === "error" && stanza.attrs.id) {
      // RFC 6120 §8.3.1: an error is never answered with an error; over budget it is dropped.
      const spent = deps.budget.admit("message", from);
      if (spent) return deps.onStanza?.("error", spent);
      deps.onBounce(stanza.attrs.id, from ?? "", readError(stanza));
      deps.onStanza?.("error", "handled");
    } else if (stanza.is("message") && stanza.attrs.type !== "error" && from && deps.rooms?.knows(from)) {
      // A room one of our occupants is in (docs/design.md §Rooms with an address): its own budget, its order.
      const spent = deps.budget.admit("message", from);
      if (spent) return deps.onStanza?.("message", spent);
      const rooms = deps.rooms;
      const pushed = deps.queues.push(queueKey(stanza), async () => {
        const answer = rooms.onMessage(stanza);
        deps.onStanza?.("message", "handled");
        if (answer && "chat" in answer) void onUserMessage(stanza, answer.chat).catch(failed);
        const reply = answer && "refuse" in answer ? messageError(stanza, "auth", "forbidden", answer.refuse) : null;
        if (reply) await deps.send(reply).catch(() => undefined);
      });
      deps.onStanza?.("message", pushed === "queued" ? "accepted" : pushed);
    } else if (stanza.is("message") && stanza.attrs.type !== "error" && stanza.attrs.type !== "groupchat") {
      // Chat states, receipts and markers (no body) refused are dropped: there is nothing to say again.
      const refuse = (spent: Spent | "queue" | "busy") => {
        deps.onStanza?.("message", spent);
        const chat = readChat(stanza);
        if (chat.body !== null || chat.encrypted) answer(stanza, spent);
      };
      const spent = deps.budget.admit("message", from);
      if (spent) return refuse(spent);
      // An announcement has no body (XEP-0356 §4.2): a message with words is a message, whatever else it holds.
      const privilege = stanza.getChild("body") ? null : privilegeOf(stanza);
      if (privilege || deps.isEcho?.(stanza)) {
        if (privilege) deps.onPrivilege?.(stanza, privilege);
        return deps.onStanza?.("message", "handled");
      }
      const receipt = stanza.getChild("received", NS.receipts)?.attrs.id;
      const user = bareOf(from);
      if (typeof receipt === "string" && user) deps.onReceipt?.(user, receipt);
      // In the sender's order after its earlier stanzas; the answer is not waited for (above).
      const toGateway = deps.onGatewayMessage && deps.domain
        && String(stanza.attrs.to ?? "").split("/")[0]!.toLowerCase() === deps.domain.toLowerCase();
      const pushed = deps.queues.push(queueKey(stanza), async () => {
        if (toGateway) await deps.onGatewayMessage!(stanza).catch(failed);
        else void onUserMessage(stanza).catch(failed);
        deps.onStanza?.("message", "handled");
      });
      if (pushed === "queued") deps.onStanza?.("message", "accepted");
      else refuse(pushed);
    } else if (stanza.is("presence")) {
      // RFC 6121 §3.1.3 leaves a subscription request pending until the contact answers, and presence
      // expects no reply (§4.4, §4.5): presence over budget is dropped without an error, which would
      // be one more stanza a flooded one; the sender's server asks again at the user's next request.
      const kind = SUBSCRIPTION.has(String(stanza.attrs.type)) ? "subscription" : "presence";
      const spent = deps.budget.admit(kind, from);
      if (spent) return deps.onStanza?.("presence", spent);
      const pushed = deps.queues.push(queueKey(stanza), () => deps.onPresence(stanza)
        .finally(() => deps.onStanza?.("presence", "handled")));
      deps.onStanza?.("presence", pushed === "queued" ? "accepted" : pushed);
    }
  };
}
