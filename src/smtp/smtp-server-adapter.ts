// The one place that uses smtp-server's internals, for the one version they were read from. smtp-server
// holds every greeting a fixed 100 ms (SMTPConnection.init) and answers `421` to a client that speaks
// first; no option or hook changes that wait, and it caps one-mail-per-connection senders at ten mails a
// second a connection (BENCHMARKS.md, the pregreet A/B pair). And it writes its own replies (`500`,
// `503`, `221`, `421 Timeout`…) without RFC 3463 codes, or, with its hideENHANCEDSTATUSCODES option off,
// with codes of its own choosing that it also puts in front of ours (`550 5.1.1 5.1.1 …`): the
// connection's public `send` is given the code ours choose (replies.ts withEnhancedCode) instead.
// Everything else in src/ uses its public API.
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import type { SMTPServer } from "smtp-server";
import { SMTPConnection, type SMTPConnectionOptions } from "smtp-server/lib/smtp-connection.js";
import { withEnhancedCode } from "./replies.ts";

/** The version whose SMTPServer.connect and SMTPConnection.init the code below mirrors (pinned in package.json). */
export const SMTP_SERVER_VERSION = "3.21.6";

/** The smtp-server that is installed. */
export const installedSmtpServerVersion: string =
  (createRequire(import.meta.url)("smtp-server/package.json") as { version: string }).version;

/** Whether adaptConnections will apply: then every reply carries an RFC 3463 code, and EHLO may say so
 * (smtp-server's hideENHANCEDSTATUSCODES: false). */
export const ADAPTER_APPLIES = installedSmtpServerVersion === SMTP_SERVER_VERSION;

/**
 * Make `server`'s connections (1) hold each new connection's greeting `waitFor(remoteAddress)`
 * milliseconds instead of its fixed 100 ms (0 greets at once; until the greeting, anything the client
 * sends is still answered `421` by smtp-server itself), and (2) write every reply with its RFC 3463 code
 * (RFC 2034 §3), smtp-server's own included. Returns false, and changes nothing, when the installed
 * smtp-server is not SMTP_SERVER_VERSION: its own 100 ms then holds every greeting (slower, never less
 * strict) and its own replies go out bare (ours still carry their codes in their text).
 * test/unit/smtp/smtp-server-adapter.test.ts fails when what this relies on changes.
 */
export function adaptConnections(server: SMTPServer, waitFor: (remoteAddress: string) => number): boolean {
  if (!ADAPTER_APPLIES) return false;
  class Connection extends SMTPConnection {
    // SMTPConnection.init of 3.21.6 with only the delay changed.
    override init(): void {
      this._setListeners(() => {
        const { maxClients } = this._server.options;
        if (maxClients && this._server.connections.size > maxClients) {
          return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
        }
        const wait = waitFor(this.remoteAddress);
        if (wait === 0) return this.connectionReady();
        setTimeout(() => this.connectionReady(), wait).unref();
      });
    }
    // Context false: smtp-server adds no code of its own to a text that now has ours.
    override send(code: number, data?: string | string[] | null, context?: string | false): void {
      super.send(code, withEnhancedCode(code, data, context), false);
    }
  }
  // SMTPServer.connect of 3.21.6 (a method smtp-server lets applications replace), making a Connection.
  server.connect = (socket: Socket, socketOptions?: SMTPConnectionOptions | null) => {
    const connection = new Connection(server, socket, socketOptions);
    server.connections.add(connection);
    connection.on("error", (err: Error) => server._onError(err));
    connection.on("connect", (data) => server._onClientConnect(data));
    connection.init();
  };
  return true;
}
