// The relay (SMTP_RELAY): pooled nodemailer connections sending bytes we rendered ourselves.
import { createTransport, type Transporter } from "nodemailer";
import { classifyRelayError, type RelayFailure } from "./classify.ts";

export interface Relay {
  /** Resolves with the relay's reply on success; rejects with a classified RelayFailure. */
  send(envelope: { from: string; to: string }, raw: Buffer): Promise<string>;
  close(): void;
}

export class RelayError extends Error implements RelayFailure {
  override name = "RelayError";
  readonly permanent: boolean;
  readonly text: string;
  constructor(failure: RelayFailure) {
    super(failure.text);
    this.permanent = failure.permanent;
    this.text = failure.text;
  }
}

export function createRelay(url: string): Relay {
  // The options go in one object with the url: given as createTransport's second argument they would be
  // defaults for each message, and nodemailer would open (and greet) a new connection for every mail.
  const transport: Transporter = createTransport({
    url,
    pool: true,
    maxConnections: 4,
    // A pooled connection is replaced after this many mails (nodemailer's default is 100).
    maxMessages: 10_000,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  } as object);
  return {
    async send(envelope, raw) {
      try {
        // The envelope comes from our mapping only (invariant 5), never from the message text.
        const info = await transport.sendMail({ envelope: { from: envelope.from, to: [envelope.to] }, raw });
        return String(info.response ?? "250");
      } catch (err) {
        throw new RelayError(classifyRelayError(err as Error & { responseCode?: number; response?: string; code?: string }));
      }
    },
    close: () => transport.close(),
  };
}
