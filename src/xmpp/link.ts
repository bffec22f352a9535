// The component's link state (xmpp/link-state.ts) kept from the stream's events, what reads it (waiters,
// log lines, the state callback), the backoff, and the keep-alive (docs/design.md §XMPP link).
import type { Component } from "@xmpp/component";
import type { Logger } from "../log.ts";
import { INITIAL, isStatusEvent, next, type LinkEvent, type LinkState } from "./link-state.ts";

export interface LinkWatchConfig { service: string; domain: string; keepaliveMs: number }

export interface LinkWatchDeps {
  log: Logger;
  /** Ask the server something and resolve with its answer; reject when none comes within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  onState?(state: LinkState): void;
  now?(): number;
}

export interface LinkWatch {
  state(): LinkState;
  /** How many times the link has come online: a stanza sent in one session is proven only by an answer in the same one. */
  session(): number;
  whenOnline(signal: AbortSignal): Promise<void>;
  /** Resolves true at the first `online`, false when the socket of the attempt in course is gone first. */
  settled(): Promise<boolean>;
  /** Drop the socket at once, whatever its state (the peer may never answer a graceful close). */
  drop(): void;
  stop(): void;
}

const MIN_DELAY = 1000;
const MAX_DELAY = 30_000;

export function watchLink(xmpp: Component, config: LinkWatchConfig, deps: LinkWatchDeps): LinkWatch {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  let link = INITIAL;
  /** When the current state began; for `connecting`, when this socket's attempt began. */
  let since = now();
  /** Counts sockets, so a late keep-alive verdict never drops a newer one. */
  let attempt = 0;
  let pinging = false;
  let sessions = 0;
  const waiters = new Set<() => void>();
  const settles = new Set<(online: boolean) => void>();

  // xmpp.js's `socket` is the only part of its connection read here, and only in this file.
  // No Nagle on the component stream: the worker's proof-of-delivery ping would otherwise wait for
  // Prosody's delayed ACK (40 ms) on every batch (BENCHMARKS.md: p99 134 → 49 ms at 200 mails/s).
  xmpp.on("connect", () => xmpp.socket?.setNoDelay(true));

  const drop = () => {
    // No public call of xmpp.js drops a socket yet keeps reconnecting: stop() ends reconnecting, and
    // disconnect() waits for the peer's close, which a dead link never sends. Destroying the socket
    // makes it emit `close`: xmpp.js resets and says `disconnect`, and @xmpp/reconnect starts again.
    xmpp.socket?.destroy();
  };

  const changed = (from: LinkState, state: LinkState) => {
    if (state === "online") {
      sessions++;
      xmpp.reconnect.delay = MIN_DELAY;
      log.info({ domain: config.domain, xmppService: config.service }, "xmpp component online");
      for (const wake of waiters) wake();
      waiters.clear();
    } else if (from === "online" && state !== "stopped") {
      log.warn({ xmppService: config.service, state }, "xmpp link lost; reconnecting");
    }
    if (state === "online" || state === "offline" || state === "stopped") {
      for (const settle of settles) settle(state === "online");
      settles.clear();
    }
    deps.onState?.(state);
  };

  const feed = (event: LinkEvent) => {
    const before = link;
    const { link: after, drop: mustDrop } = next(before, event);
    link = after;
    if (event === "connecting") attempt++;
    if (after.state !== before.state || event === "connecting") since = now();
    if (after.state !== before.state) changed(before.state, after.state);
    if (mustDrop) {
      log.debug({ event, step: before.step }, "xmpp stream cannot go on; dropping the socket");
      drop();
    }
  };

  xmpp.on("status", (status: string) => {
    if (isStatusEvent(status)) feed(status);
  });
  xmpp.on("error", () => feed("error"));
  // @xmpp/reconnect retries at a fixed delay, read at each `disconnect` by its own listener, which runs
  // before this one: double it up to MAX_DELAY for the attempt after; `online` sets it back.
  xmpp.reconnect.delay = MIN_DELAY;
  xmpp.on("disconnect", () => {
    xmpp.reconnect.delay = Math.min(xmpp.reconnect.delay * 2, MAX_DELAY);
  });

  // XEP-0114 has no keep-alive and xmpp.js none of its own. While a socket is open: an online link is
  // pinged, and a ping unanswered within the interval drops it; a socket still connecting (or closing)
  // an interval after it began is dropped too, so a handshake that never completes is retried.
  const keepalive = setInterval(() => {
    const mine = attempt;
    if (link.state === "online" && !pinging) {
      pinging = true;
      deps.ping(config.keepaliveMs).then(() => undefined, (err: Error) => {
        if (mine !== attempt || link.state !== "online") return;
        log.warn({ xmppService: config.service, err: err.message }, "xmpp server stopped answering pings; reconnecting");
        drop();
      }).finally(() => { pinging = false; });
    } else if ((link.state === "connecting" || link.state === "closing") && now() - since >= config.keepaliveMs) {
      log.warn({ xmppService: config.service, state: link.state, step: link.step },
        `xmpp socket still ${link.state} after ${config.keepaliveMs} ms; dropping it`);
      drop();
    }
  }, config.keepaliveMs);
  keepalive.unref();

  return {
    state: () => link.state,
    session: () => sessions,
    whenOnline: (signal) => new Promise<void>((resolve) => {
      if (link.state === "online" || signal.aborted) return resolve();
      const wake = () => {
        waiters.delete(wake);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    }),
    settled: () => new Promise<boolean>((resolve) => {
      if (link.state === "online") return resolve(true);
      settles.add(resolve);
    }),
    drop,
    stop() {
      clearInterval(keepalive);
      feed("stop");
    },
  };
}
