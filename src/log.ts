// pino JSON logs. Secrets and bodies never reach a log line: redact the known places they could be.
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: "passerelle" },
    redact: {
      paths: ["secret", "password", "privateKey", "relayUrl", "*.secret", "*.password", "*.privateKey", "*.relayUrl",
        "config.xmpp.secret", "config.dkim"],
      censor: "[redacted]",
    },
  }, destination);
}

/**
 * The server's log: standard output, written asynchronously (a burst of lines costs one write, not one
 * system call per line); pino flushes what is pending when the process exits.
 */
export function createServerLogger(level: string): Logger {
  return createLogger(level, pino.destination({ dest: 1, sync: false }));
}
