// A real SMTP server on loopback playing the relay (SMTP_RELAY): records what it is given, can refuse
// with a chosen reply, and can be stopped and started again on the same port.
import { SMTPServer } from "smtp-server";

export interface Relayed { from: string; to: string[]; raw: Buffer }

export interface RelaySink {
  port: number;
  relayed: Relayed[];
  /** refuse every recipient with this reply until set back to null */
  refuse: { code: number; text: string } | null;
  /** refuse these recipients (lower case) with their reply, always */
  refuseOnly: Map<string, { code: number; text: string }>;
  /** wait this long after a mail's data before answering 250 (a slow relay); 0 by default */
  answerDelayMs: number;
  /** mails refused for a line over 998 characters */
  refusedLongLines: number;
  /** connection errors, e.g. the reset of a gateway killed in the middle of a transaction; kept, as a real relay logs them */
  errors: Error[];
  stop(): Promise<void>;
  /** listen again on the same port */
  start(): Promise<void>;
}

export async function startRelaySink(): Promise<RelaySink> {
  let server: SMTPServer | null = null;
  const sink: RelaySink = {
    port: 0,
    relayed: [],
    refuse: null,
    refuseOnly: new Map(),
    answerDelayMs: 0,
    refusedLongLines: 0,
    errors: [],
    async start() {
      server = new SMTPServer({
        authOptional: true, disabledCommands: ["STARTTLS", "AUTH"], logger: false,
        onRcptTo(address, _session, callback) {
          const refusal = sink.refuse ?? sink.refuseOnly.get(address.address.toLowerCase());
          if (refusal) return callback(Object.assign(new Error(refusal.text), { responseCode: refusal.code }));
          callback();
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            // RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: a line is at most 998 characters; a real relay refuses more.
            const long = Buffer.concat(chunks).toString("latin1").split("\r\n").find((l) => l.length > 998);
            if (long !== undefined) {
              sink.refusedLongLines++;
              return callback(Object.assign(new Error(`5.6.0 line of ${long.length} characters (RFC 5322 §2.1.1: at most 998)`), { responseCode: 554 }));
            }
            sink.relayed.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
            if (sink.answerDelayMs > 0) setTimeout(callback, sink.answerDelayMs);
            else callback();
          });
        },
      });
      const s = server;
      // smtp-server emits a client's socket error inside a transaction on the server: without a listener
      // it would be thrown, and end the test process.
      s.on("error", (err: Error) => sink.errors.push(err));
      await new Promise<void>((resolve, reject) => {
        s.server.once("error", reject);
        s.listen(sink.port, "127.0.0.1", () => resolve());
      });
      sink.port = (s.server.address() as { port: number }).port;
    },
    async stop() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await sink.start();
  return sink;
}
