// A real chat client (@xmpp/client) logged in to the test Prosody, recording every message it gets.
import { client, xml, type Element } from "@xmpp/client";
import { waitFor } from "./wait.ts";

export interface ChatClient {
  jid: string;
  messages: Element[];
  presences: Element[];
  /** The first received presence matching `predicate`, waiting for it if need be. */
  waitForPresence(predicate: (p: Element) => boolean, what: string, timeoutMs?: number): Promise<Element>;
  /** The first received message matching `predicate`, waiting for it if need be. */
  waitForMessage(predicate: (m: Element) => boolean, what: string, timeoutMs?: number): Promise<Element>;
  send(stanza: Element): Promise<void>;
  /** An IQ request; resolves with the result, rejects with the error reply. */
  request(stanza: Element, timeoutMs?: number): Promise<Element>;
  /** Answer IQ gets for a namespace's element (e.g. disco#info for XEP-0115 caps) with the handler's result. */
  answerGet(ns: string, name: string, handler: (stanza: Element) => Element): void;
  stop(): Promise<void>;
}

export interface ClientOptions {
  resource?: string;
  /** Called for every message as it arrives (the benchmark timestamps receipts with it). */
  onMessage?(message: Element): void;
}

export async function connectClient(c2sPort: number, domain: string, username: string, password: string,
  options: ClientOptions = {}): Promise<ChatClient> {
  const resource = options.resource ?? "test";
  const xmpp = client({
    service: `xmpp://127.0.0.1:${c2sPort}`, domain, resource,
    // On a plain test stream @xmpp/client picks SCRAM-SHA-1 (~0.65 s of PBKDF2 a login); the test
    // Prosody allows PLAIN without TLS, so ask for it.
    credentials: (authenticate) => authenticate({ username, password }, "PLAIN"),
  });
  const messages: Element[] = [];
  const presences: Element[] = [];
  xmpp.on("error", () => undefined);
  xmpp.on("stanza", (stanza: Element) => {
    if (stanza.is("presence")) presences.push(stanza);
    if (!stanza.is("message")) return;
    messages.push(stanza);
    options.onMessage?.(stanza);
  });
  xmpp.reconnect.stop();
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return {
    jid: `${username}@${domain}`,
    messages,
    presences,
    waitForPresence: (predicate, what, timeoutMs = 20_000) => waitFor(what, () => presences.find(predicate), timeoutMs),
    waitForMessage: (predicate, what, timeoutMs = 20_000) =>
      waitFor(what, () => messages.find(predicate), timeoutMs),
    send: (stanza) => xmpp.send(stanza),
    request: (stanza, timeoutMs = 10_000) => xmpp.iqCaller.request(stanza, timeoutMs),
    answerGet: (ns, name, handler) => xmpp.iqCallee.get(ns, name, (ctx: { stanza: Element }) => handler(ctx.stanza)),
    stop: async () => {
      await xmpp.stop().catch(() => undefined);
    },
  };
}

export { xml };
export type { Element };

/** The stanza error a request was answered with (xmpp.js rejects with a StanzaError carrying it); fails
 * when the request succeeded. */
export async function refusal(p: Promise<unknown>): Promise<{ condition: string; type: string; text: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { condition?: string; text?: string; element?: Element };
    if (e.condition) return { condition: e.condition, type: String(e.element?.attrs.type ?? ""), text: e.text ?? "" };
    throw err;
  }
  throw new Error("expected an error reply");
}
