// The relay (SMTP_RELAY): pooled nodemailer connections sending bytes we rendered ourselves.
import { domainToASCII } from "node:url";
import { createTransport, type Transporter } from "nodemailer";
import { classifyRelayError, type RelayFailure } from "./classify.ts";
import { sendPrepared } from "./nodemailer-adapter.ts";

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
      // The envelope comes from our mapping only (invariant 5), never from the message text; `raw` goes as it is.
      try {
        const info = await sendPrepared(transport, { from: asciiDomain(envelope.from), to: [asciiDomain(envelope.to)] }, raw);
        return String(info.response ?? "250");
      } catch (err) {
        throw new RelayError(classifyRelayError(err as Error & { responseCode?: number; response?: string; code?: string }));
      }
    },
    close: () => transport.close(),
  };
}

/** Internationalized domains in A-labels, as sendMail does for the envelope (RFC 5890); the local part as it is. */
function asciiDomain(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 0) return address;
  return `${address.slice(0, at + 1)}${domainToASCII(address.slice(at + 1)) || address.slice(at + 1)}`;
}
