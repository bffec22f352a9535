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
