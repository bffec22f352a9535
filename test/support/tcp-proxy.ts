// A TCP proxy the test controls, to cut a real server (PostgreSQL, the XMPP server's component port)
// away from the gateway and bring it back: at once, at a chosen moment of a connection (after N bytes,
// after a given text such as the component's handshake), or by stalling it with the sockets left open.
import { connect, createServer, type Socket } from "node:net";

/** What happens to one connection once a given point of its traffic has passed. */
export interface Fault {
  /** The direction watched: what the client (the gateway) sends, or what the server answers. */
  from: "client" | "server";
  /** Fires once this many bytes went that way (exactly those are forwarded, nothing after them)... */
  afterBytes?: number;
  /** ...or right after the first occurrence of this text that way (forwarded through its end). */
  afterText?: string;
  /** cut: both sockets destroyed. stall: nothing more forwarded either way, not even a close; the sockets
   * stay open. delay: the rest of that direction is held this long, then forwarded. */
  action: "cut" | "stall" | { delayMs: number };
}

export interface TcpProxy {
  port: number;
  /** Drop every open connection and refuse new ones (they are accepted, then closed at once). */
  cut(): void;
  /** Forward new connections again, after cut() or stall(). */
  restore(): void;
  /** Drop every open connection; new ones are forwarded as usual. */
  drop(): void;
  /** A half-open link: open connections and new ones forward nothing more, and their sockets stay open. */
  stall(): void;
  /** The fault of the next connection accepted without one (faults apply one a connection, in order). */
  arm(fault: Fault): void;
  /** Connections accepted and forwarded so far, and faults that fired. */
  counts(): { accepted: number; fired: number };
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  stalled: boolean;
  fault: Fault | null;
  /** bytes and text seen in the fault's direction, until it fires */
  seen: { bytes: number; text: string };
  /** chunks held by a delay fault, in order, until it ends */
  held: Buffer[] | null;
}

export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  const armed: Fault[] = [];
  let down = false;
  let stalling = false;
  let accepted = 0;
  let fired = 0;

  const drop = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream.destroy();
    pairs.delete(pair);
  };

  /** Where in `chunk` the pair's fault fires, or -1. */
  const firesAt = (pair: Pair, chunk: Buffer): number => {
    const { fault, seen } = pair;
    if (!fault) return -1;
    if (fault.afterBytes !== undefined) {
      const at = fault.afterBytes - seen.bytes;
      seen.bytes += chunk.length;
      return at <= chunk.length ? Math.max(at, 0) : -1;
    }
    const text = fault.afterText ?? "";
    const before = seen.text.length;
    seen.text += chunk.toString("latin1");
    const found = seen.text.indexOf(text, Math.max(0, before - text.length));
    return found < 0 ? -1 : found + text.length - before;
  };

  const fire = (pair: Pair, rest: Buffer, to: Socket) => {
    const action = pair.fault!.action;
    pair.fault = null;
    fired++;
    if (action === "cut") return drop(pair);
    if (action === "stall") {
      pair.stalled = true;
      return;
    }
    pair.held = rest.length ? [rest] : [];
    setTimeout(() => {
      for (const chunk of pair.held ?? []) to.write(chunk);
      pair.held = null;
    }, action.delayMs);
  };

  const forward = (pair: Pair, from: Socket, to: Socket, direction: Fault["from"]) => {
    from.on("data", (chunk: Buffer) => {
      if (pair.stalled) return;
      if (pair.held) {
        pair.held.push(chunk);
        return;
      }
      if (pair.fault?.from === direction) {
        const at = firesAt(pair, chunk);
        if (at >= 0) {
          if (at > 0) to.write(chunk.subarray(0, at));
          return fire(pair, chunk.subarray(at), to);
        }
      }
      to.write(chunk);
    });
    // Half-closes pass through, unless the pair is stalled (a dead link sends nothing, not even a FIN).
    from.on("end", () => {
      if (!pair.stalled) to.end();
    });
    from.on("error", () => {
      if (!pair.stalled) drop(pair);
    });
    from.on("close", () => {
      if (!pair.stalled) drop(pair);
    });
  };

  const server = createServer({ allowHalfOpen: true }, (client) => {
    if (down) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    const pair: Pair = { client, upstream, stalled: stalling, fault: armed.shift() ?? null, seen: { bytes: 0, text: "" }, held: null };
    pairs.add(pair);
    forward(pair, client, upstream, "client");
    forward(pair, upstream, client, "server");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("proxy has no port");
  return {
    port: address.port,
    cut() {
      down = true;
      for (const pair of [...pairs]) drop(pair);
    },
    restore() {
      down = false;
      stalling = false;
    },
    drop() {
      for (const pair of [...pairs]) drop(pair);
    },
    stall() {
      stalling = true;
      for (const pair of pairs) pair.stalled = true;
    },
    arm(fault) {
      armed.push(fault);
    },
    counts: () => ({ accepted, fired }),
    close: () => new Promise<void>((resolve) => {
      for (const pair of [...pairs]) drop(pair);
      server.close(() => resolve());
    }),
  };
}
