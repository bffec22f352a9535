// Session limits smtp-server does not enforce itself (bad-inputs.md, Limits): a total deadline and a
// minimum data rate per session (its socketTimeout is an idle timer that a one-byte trickle keeps
// resetting), and connections per client address. Replies follow Postfix: `421 4.4.2 … timeout
// exceeded` (RFC 3463 X.4.2: bad connection) and `421 4.7.0 … too many connections` (X.7.0: policy).
import type { Socket } from "node:net";
import type { SMTPServer, SMTPServerSession } from "smtp-server";
import type { Logger } from "../log.ts";
import { SmtpReply } from "./replies.ts";

export interface SessionLimits {
  /** total life of one SMTP session, whatever it does */
  sessionTimeoutMs: number;
  /** bytes a second the client must send while it owes us input (a command line begun, or DATA) */
  minDataRate: number;
  /** the rate is judged over windows of this length */
  rateWindowMs: number;
  /** simultaneous sessions from one address (trusted proxies are exempt: they carry many clients) */
  maxPerIp: number;
  trustedProxies: string[];
}

/** The parts of smtp-server's SMTPConnection used here (not in its public types). */
interface Connection {
  session: SMTPServerSession;
  _socket: Socket;
  send(code: number, text: string, context?: false): void;
}

interface Watched {
  connection: Connection;
  ip: string;
  startedAt: number;
  socket: Socket | null;
  onData: (chunk: Buffer) => void;
  windowStart: number;
  windowBytes: number;
  /** the last byte received was not a line end: a command line is being sent */
  partialLine: boolean;
  inData: boolean;
  /** our own hooks (mailbox lookup, commit) are working: the client waits for us, not we for it */
  busy: number;
}

export interface SessionGuard {
  /** onConnect: null to go on, or the 421 to refuse the session with. */
  admit(session: SMTPServerSession): SmtpReply | null;
  /** onClose */
  release(session: SMTPServerSession): void;
  /** Wrap a hook's asynchronous work: no deadline fires while it runs (no 421 between commit and 250). */
  busy<T>(session: SMTPServerSession, work: Promise<T>): Promise<T>;
  dataMode(session: SMTPServerSession, on: boolean): void;
  stop(): void;
}

const TICK_MS = 1000;

export function normaliseIp(ip: string | undefined): string {
  return (ip ?? "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "").toLowerCase();
}

export function createSessionGuard(config: SessionLimits, deps: { log: Logger; server: () => SMTPServer; hostname: string }): SessionGuard {
  const watched = new Map<string, Watched>();
  const perIp = new Map<string, number>();
  const trusted = new Set(config.trustedProxies.map(normaliseIp));
  let ticker: NodeJS.Timeout | null = null;

  const connectionOf = (session: SMTPServerSession): Connection | undefined => {
    const connections = (deps.server() as unknown as { connections: Set<Connection> }).connections;
    for (const c of connections) if (c.session === session) return c;
    return undefined;
  };

  /** Count the bytes the client sends, on whichever socket is current (a new one after STARTTLS). */
  const tap = (w: Watched) => {
    const current = w.connection._socket;
    if (w.socket === current) return;
    w.socket?.off("data", w.onData);
    w.socket = current;
    current.on("data", w.onData);
  };

  const cut = (w: Watched, id: string, reason: string) => {
    deps.log.info({ session: id, remote: w.ip, reason }, "smtp session cut");
    // RFC 5321 §3.8: a server may close with 421 when it must; the client retries later.
    w.connection.send(421, `4.4.2 ${deps.hostname} Error: ${reason}, closing connection`, false);
    forget(id);
  };

  const tick = () => {
    const now = Date.now();
    for (const [id, w] of watched) {
      if (w.busy > 0) continue;
      tap(w);
      if (now - w.startedAt >= config.sessionTimeoutMs) {
        cut(w, id, "timeout exceeded");
        continue;
      }
      if (now - w.windowStart < config.rateWindowMs) continue;
      const owed = w.inData || w.partialLine;
      const needed = (config.minDataRate * (now - w.windowStart)) / 1000;
      if (owed && w.windowBytes < needed) {
        cut(w, id, "minimum data rate not met");
        continue;
      }
      w.windowStart = now;
      w.windowBytes = 0;
    }
    if (watched.size === 0 && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  };

  const forget = (id: string) => {
    const w = watched.get(id);
    if (!w) return;
    w.socket?.off("data", w.onData);
    watched.delete(id);
    const left = (perIp.get(w.ip) ?? 1) - 1;
    if (left > 0) perIp.set(w.ip, left);
    else perIp.delete(w.ip);
  };

  return {
    admit(session) {
      const ip = normaliseIp(session.remoteAddress);
      const connection = connectionOf(session);
      const count = perIp.get(ip) ?? 0;
      if (!trusted.has(ip) && count >= config.maxPerIp) {
        deps.log.info({ session: session.id, remote: ip, count }, "smtp session refused: too many from one address");
        return new SmtpReply(421, `4.7.0 ${deps.hostname} Error: too many connections from ${ip}`);
      }
      if (!connection) return null;
      perIp.set(ip, count + 1);
      const now = Date.now();
      const w: Watched = {
        connection, ip, startedAt: now, socket: null, windowStart: now, windowBytes: 0,
        partialLine: false, inData: false, busy: 0,
        onData: (chunk: Buffer) => {
          w.windowBytes += chunk.length;
          w.partialLine = chunk.length > 0 && chunk[chunk.length - 1] !== 0x0a;
        },
      };
      watched.set(session.id, w);
      tap(w);
      ticker ??= setInterval(tick, TICK_MS).unref();
      return null;
    },
    release(session) {
      forget(session.id);
    },
    busy(session, work) {
      const w = watched.get(session.id);
      if (!w) return work;
      w.busy++;
      return work.finally(() => {
        w.busy--;
        // The time spent waiting for us is not the client's: its rate window starts afresh.
        w.windowStart = Date.now();
        w.windowBytes = 0;
      });
    },
    dataMode(session, on) {
      const w = watched.get(session.id);
      if (w) w.inData = on;
    },
    stop() {
      if (ticker) clearInterval(ticker);
      ticker = null;
    },
  };
}
