// The XEP-0114 link as a state machine fed only by the stream's own events (docs/design.md §XMPP link).
// Pure: the wiring (xmpp/link.ts) passes each xmpp.js `status` event, every `error`, and our own `stop`.

/** What /healthz and the metrics say; only `online` lets deliveries go. */
export type LinkState = "connecting" | "online" | "closing" | "offline" | "stopped";

/** How far a connecting link has got: the TCP socket, our stream header sent, or the server's header
 * received and the handshake sent in answer (XEP-0114 §3: the handshake follows the server's header). */
export type Step = "socket" | "stream" | "handshake";

export interface Link {
  readonly state: LinkState;
  /** Only while connecting. */
  readonly step?: Step;
}

/** xmpp.js 0.13 `status` events of a component, in their order on one socket: connecting, connect,
 * opening, open, online; then closing, close, disconnecting, disconnect; `offline` after stop() only. */
export type StatusEvent = "connecting" | "connect" | "opening" | "open" | "online"
  | "closing" | "close" | "disconnecting" | "disconnect" | "offline";
/** `error`: any error the entity emits (it carries no socket); `stop`: the gateway is shutting down. */
export type LinkEvent = StatusEvent | "error" | "stop";

export interface Transition {
  link: Link;
  /** The socket must be dropped now: xmpp.js will neither finish nor end this stream by itself. */
  drop: boolean;
}

export const INITIAL: Link = { state: "offline" };
const STATUS = new Set<string>(["connecting", "connect", "opening", "open", "online",
  "closing", "close", "disconnecting", "disconnect", "offline"]);

export function isStatusEvent(status: string): status is StatusEvent {
  return STATUS.has(status);
}

const stay = (link: Link): Transition => ({ link, drop: false });
const to = (state: LinkState, drop = false): Transition => ({ link: { state }, drop });
const connecting = (step: Step): Transition => ({ link: { state: "connecting", step }, drop: false });

export function next(link: Link, event: LinkEvent): Transition {
  if (link.state === "stopped") return stay(link);
  switch (event) {
    case "stop":
    case "offline": // emitted by xmpp.stop() only: nothing reconnects after it
      return to("stopped");
    case "connecting": // xmpp.js opens a new socket only once the previous one is gone
      return connecting("socket");
    case "disconnect": // the socket is closed, whatever its state: @xmpp/reconnect schedules the next one
      return to("offline");
    default:
  }
  switch (link.state) {
    case "offline":
      // No socket: anything else is late news of a socket already gone (an old handshake's
      // `online` or its timeout error) and changes nothing.
      return stay(link);
    case "connecting":
      return whileConnecting(link.step ?? "socket", event);
    case "online":
      if (event === "closing" || event === "disconnecting") return to("closing");
      // The server closed its stream (RFC 6120 §4.4); xmpp.js does not end the socket on that.
      if (event === "close") return to("closing", true);
      return stay(link); // a second `online`, a restart we never ask for, an error the stream survives
    case "closing":
      return stay(link); // only `disconnect` (or a new socket) ends it
  }
}

function whileConnecting(step: Step, event: LinkEvent): Transition {
  switch (event) {
    case "connect":
    case "opening":
      return connecting(step === "socket" ? "stream" : step);
    case "open":
      return connecting("handshake");
    case "online":
      // Only an answer to this socket's handshake counts; before it is sent, `online` is late news.
      return step === "handshake" ? to("online") : connecting(step);
    case "error":
      // While the handshake waits for its answer, any error the entity emits, even a stale timeout
      // from an earlier socket's handshake, rejects that wait: xmpp.js never says online on this
      // socket, though the server may have accepted us. Drop it and let reconnect start afresh.
      // Before that, an error is either followed by the socket's close or harmless (a late header
      // still starts the handshake).
      return step === "handshake" ? to("closing", true) : connecting(step);
    case "closing":
    case "disconnecting":
      return to("closing");
    case "close":
      return to("closing", true);
    default:
      return connecting(step);
  }
}
