// Session limits smtp-server does not enforce itself (docs/design.md §Budgets): a total deadline and a
// minimum data rate per session (its socketTimeout is an idle timer that a one-byte trickle keeps
// resetting), and connections per client address. Replies follow Postfix: `421 4.4.2 … timeout
// exceeded` (RFC 3463 X.4.2: bad connection) and `421 4.7.0 … too many connections` (X.7.0: policy).
import type { Socket } from "node:net";
import type { SMTPServer, SMTPServerSession } from "smtp-server";
import type { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import type { Logger } from "../log.ts";
import { clientKey, normaliseIp } from "../core/client-address.ts";
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

interface Watched {
  connection: SMTPConnection;
  ip: string;
  /** what its sessions count under: the address, an IPv6 one by its /64 (core/client-address.ts) */
  key: string;
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
  /** Watch `server`'s sockets: call once, after any other replacement of its `connect`. */
  attach(server: SMTPServer): void;
  /** onConnect: null to go on, or the 421 to refuse the session with. */
  admit(session: SMTPServerSession): SmtpReply | null;
  /** onClose */
  release(session: SMTPServerSession): void;
  /** onSecure: the session goes on over this TLS socket (after STARTTLS). */
  secured(session: SMTPServerSession, socket: Socket): void;
  /** Wrap a hook's asynchronous work: no deadline fires while it runs (no 421 between commit and 250). */
  busy<T>(session: SMTPServerSession, work: Promise<T>): Promise<T>;
  dataMode(session: SMTPServerSession, on: boolean): void;
  stop(): void;
}

const TICK_MS = 1000;

export function createSessionGuard(config: SessionLimits, deps: { log: Logger; hostname: string }): SessionGuard {
  const watched = new Map<string, Watched>();
  /** sockets handed to smtp-server, by the id its session will have, until onConnect */
  const arriving = new Map<string, Socket>();
  let server: SMTPServer | null = null;
  const perIp = new Map<string, number>();
  const trusted = new Set(config.trustedProxies.map(normaliseIp));
  let ticker: NodeJS.Timeout | null = null;

  const connectionOf = (session: SMTPServerSession): SMTPConnection | undefined => {
    for (const c of server?.connections ?? []) if (c.session === session) return c;
    return undefined;
  };

  /** Count the bytes the client sends, on the socket the session now uses (a new one after STARTTLS). */
  const tap = (w: Watched, socket: Socket) => {
    if (w.socket === socket) return;
    w.socket?.off("data", w.onData);
    w.socket = socket;
    socket.on("data", w.onData);
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
    const left = (perIp.get(w.key) ?? 1) - 1;
    if (left > 0) perIp.set(w.key, left);
    else perIp.delete(w.key);
  };

  return {
    attach(smtp) {
      server = smtp;
      const connect = smtp.connect.bind(smtp);
      // smtp-server hands each accepted socket to connect() (which applications may replace), with the
      // id the session gets.
      smtp.connect = (socket, socketOptions) => {
        const id = socketOptions?.id;
        if (id !== undefined) {
          arriving.set(id, socket);
          socket.once("close", () => arriving.delete(id));
        }
        connect(socket, socketOptions);
      };
    },
    admit(session) {
      const ip = normaliseIp(session.remoteAddress);
      const connection = connectionOf(session);
      const socket = arriving.get(session.id);
      arriving.delete(session.id);
      const key = clientKey(ip);
      const count = perIp.get(key) ?? 0;
      if (!trusted.has(ip) && count >= config.maxPerIp) {
        deps.log.info({ session: session.id, remote: ip, count }, "smtp session refused: too many from one address");
        return new SmtpReply(421, `4.7.0 ${deps.hostname} Error: too many connections from ${ip}`);
      }
      if (!connection || !socket) return null;
      perIp.set(key, count + 1);
      const now = Date.now();
      const w: Watched = {
        connection, ip, key, startedAt: now, socket: null, windowStart: now, windowBytes: 0,
        partialLine: false, inData: false, busy: 0,
        onData: (chunk: Buffer) => {
          w.windowBytes += chunk.length;
          w.partialLine = chunk.length > 0 && chunk[chunk.length - 1] !== 0x0a;
        },
      };
      watched.set(session.id, w);
      tap(w, socket);
      ticker ??= setInterval(tick, TICK_MS).unref();
      return null;
    },
    release(session) {
      forget(session.id);
    },
    secured(session, socket) {
      const w = watched.get(session.id);
      if (w) tap(w, socket);
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
