// The fast receiving chat client: a real @xmpp/client (test/support) that timestamps each message's
// arrival by its stanza id (`<token>.<n>`, stable per delivery) and counts duplicates.
import { connectClient, type ChatClient } from "../test/support/xmpp-client.ts";
import { waitFor } from "../test/support/wait.ts";

export interface Receiver {
  client: ChatClient;
  /** first arrival time (performance.now()) of each stanza id */
  arrivals: Map<string, number>;
  /** stanza id → error condition, for each error the gateway sent back (e.g. about a chat message) */
  errors: Map<string, string>;
  duplicates(): number;
  /** How many distinct messages have arrived so far. */
  count(): number;
  /** Wait until `total` distinct messages have arrived; resolves with the time the last one did. */
  waitForCount(total: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

export async function connectReceiver(c2sPort: number, domain: string, user: string, password: string, fromDomain: string)
  : Promise<Receiver> {
  const arrivals = new Map<string, number>();
  const errors = new Map<string, string>();
  let duplicates = 0;
  let last = 0;
  const client = await connectClient(c2sPort, domain, user, password, {
    onMessage(message) {
      const now = performance.now();
      const id = message.attrs.id as string | undefined;
      const from = String(message.attrs.from ?? "");
      if (!id || !from.endsWith(`@${fromDomain}`)) return;
      if (message.attrs.type === "error") {
        errors.set(id, message.getChild("error")?.children.map((c) => (typeof c === "string" ? c : c.name)).join(" ") ?? "?");
        return;
      }
      if (message.attrs.type !== "chat") return;
      if (arrivals.has(id)) duplicates++;
      else {
        arrivals.set(id, now);
        last = now;
      }
    },
  });
  // The client keeps every stanza for tests; a benchmark of many thousand mails needs only the ids.
  const keep = client.messages;
  setInterval(() => { keep.length = 0; }, 1000).unref();
  return {
    client,
    arrivals,
    errors,
    duplicates: () => duplicates,
    count: () => arrivals.size,
    async waitForCount(total, timeoutMs) {
      await waitFor(`${total} messages at the client (have ${arrivals.size})`, () => arrivals.size >= total, timeoutMs, 10);
      return last;
    },
    stop: () => client.stop(),
  };
}
