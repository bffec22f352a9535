// The pregreet test (bad-inputs.md: a client that talks before the greeting gets `421` and is closed).
// smtp-server holds every greeting a fixed 100 ms and answers `421` to a client that speaks first; that
// wait caps a sender at ten mails a second per connection. Like Postfix's postscreen (postscreen_greet_wait,
// postscreen_greet_ttl), an address that once waited for the greeting and went on to start a mail
// transaction is remembered for a while and greeted at once; a new address, or one remembered too long
// ago, waits and is tested again. A client that talks early never reaches MAIL and is never remembered.
import type { Socket } from "node:net";
import { SMTPServer } from "smtp-server";
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";

export interface GreetingConfig {
  /** how long a new client's greeting is held (smtp-server's own: 100 ms) */
  waitMs: number;
  /** how long an address that passed is greeted at once; 0: always wait */
  passTtlMs: number;
  /** at most this many addresses remembered; the oldest go first */
  max: number;
}

export interface GreetingPolicy {
  /** milliseconds to hold the greeting for a client at this address */
  waitFor(address: string | undefined): number;
  /** the client at this address waited for the greeting and began a transaction */
  passed(address: string | undefined): void;
}

export function createGreetingPolicy(config: GreetingConfig, deps: { now(): number }): GreetingPolicy {
  const passedAt = new Map<string, number>();
  return {
    waitFor(address) {
      const at = address === undefined ? undefined : passedAt.get(address);
      return at !== undefined && deps.now() - at < config.passTtlMs ? 0 : config.waitMs;
    },
    passed(address) {
      if (address === undefined || config.passTtlMs <= 0) return;
      passedAt.delete(address);
      if (passedAt.size >= config.max) passedAt.delete(passedAt.keys().next().value!);
      passedAt.set(address, deps.now());
    },
  };
}

/** The parts of smtp-server 3.21's SMTPConnection and SMTPServer used here (not in their public types). */
interface ConnectionInternals {
  remoteAddress: string;
  name: string;
  _server: SMTPServer & { options: { maxClients?: number }; connections: Set<unknown> };
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  send(code: number, text: string, context?: false): void;
}
interface ServerInternals {
  connections: Set<unknown>;
  _onError(err: Error): void;
  _onClientConnect(data: unknown): void;
}

/**
 * Make `server` hold each greeting as `policy` says instead of smtp-server's fixed 100 ms. Mirrors
 * SMTPServer.connect and SMTPConnection.init of smtp-server 3.21 (pinned in package.json) with only the
 * delay changed; test/integration/limits.test.ts holds both behaviours.
 */
export function holdGreetings(server: SMTPServer, policy: GreetingPolicy): void {
  class Connection extends SMTPConnection {
    override init(): void {
      const self = this as unknown as ConnectionInternals;
      self._setListeners(() => {
        const { maxClients } = self._server.options;
        if (maxClients && self._server.connections.size > maxClients) {
          return self.send(421, `${self.name} Too many connected clients, try again in a moment`, false);
        }
        // Until the greeting, anything the client sends is answered `421` by smtp-server (`_ready`).
        const wait = policy.waitFor(self.remoteAddress);
        if (wait === 0) return self.connectionReady();
        setTimeout(() => self.connectionReady(), wait).unref();
      });
    }
  }
  const internals = server as unknown as ServerInternals;
  server.connect = (socket: Socket, socketOptions: object) => {
    const connection = new Connection(server as never, socket as never, socketOptions as never);
    internals.connections.add(connection);
    connection.on("error", (err: Error) => internals._onError(err));
    connection.on("connect", (data: unknown) => internals._onClientConnect(data));
    connection.init();
  };
}
