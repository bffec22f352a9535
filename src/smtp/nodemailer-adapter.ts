// The one place that uses nodemailer's internals, for the one version they were read from. Its public way
// to send bytes it did not build, sendMail({ envelope, raw }), parses the envelope and runs the finished
// mail through a MIME tree again: a third to two thirds more gateway CPU per relayed mail (BENCHMARKS.md,
// the relay A/B pairs). Instead the pool's transport is handed a message with only what its send() reads.
import { createRequire } from "node:module";
import { Readable } from "node:stream";
import type { Transporter } from "nodemailer";
import type MailMessage from "nodemailer/lib/mailer/mail-message";

/** The version whose SMTPPool.send (and PoolResource) the prepared message below was written for. */
export const NODEMAILER_VERSION = "10.6.1";

/** The nodemailer that is installed. */
export const installedNodemailerVersion: string =
  (createRequire(import.meta.url)("nodemailer/package.json") as { version: string }).version;

export interface Envelope { from: string; to: string[] }

/**
 * The parts of a MailMessage that SMTPPool.send and PoolResource.send of 10.6.1 read: `data` (its `dsn`,
 * `requireTLSExtensionEnabled`, `signal`: none set) and the message's envelope, Message-ID (for the
 * reply's `messageId`), headers (none) and bytes. test/unit/smtp/nodemailer-adapter.test.ts fails when
 * nodemailer reads anything else.
 */
export function preparedMessage(envelope: Envelope, raw: Buffer): MailMessage {
  const message = {
    getEnvelope: () => ({ from: envelope.from, to: [...envelope.to] }),
    messageId: () => "",
    getHeader: () => "",
    createReadStream: () => Readable.from([raw], { objectMode: false }),
  };
  return { data: {}, message } as unknown as MailMessage;
}

/**
 * Send `raw` as it is to `envelope` (already in A-labels) through the pooled `transport`. On any other
 * nodemailer than NODEMAILER_VERSION it takes the public path, sendMail({ envelope, raw }): the same bytes,
 * more CPU.
 */
export async function sendPrepared(transport: Transporter, envelope: Envelope, raw: Buffer): Promise<{ response?: string }> {
  if (installedNodemailerVersion !== NODEMAILER_VERSION) {
    return await transport.sendMail({ envelope: { from: envelope.from, to: envelope.to }, raw }) as { response?: string };
  }
  return new Promise((resolve, reject) => transport.transporter.send(preparedMessage(envelope, raw),
    (err, info) => (err ? reject(err) : resolve((info ?? {}) as { response?: string }))));
}
