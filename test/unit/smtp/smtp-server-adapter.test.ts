// What src/smtp/smtp-server-adapter.ts relies on in smtp-server, checked on the installed library: this
// fails when an upgrade changes it, before the gateway runs on a copy of code that no longer matches.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { connect, type AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { SMTPConnection } from "smtp-server/lib/smtp-connection.js";
import { adaptConnections, installedSmtpServerVersion, SMTP_SERVER_VERSION } from "../../../src/smtp/smtp-server-adapter.ts";
import { SmtpSession } from "../../support/smtp.ts";

/** The code the adapter mirrors, as smtp-server 3.21.6 has it (comments and spacing aside). */
const INIT = `init() { this._setListeners(() => { if (this._server.options.maxClients && this._server.connections.size >
  this._server.options.maxClients) { return this.send(421, this.name + ' Too many connected clients, try again in a
  moment', false); } let readyTimer = setTimeout(() => this.connectionReady(), 100); readyTimer.unref(); }); }`;
const CONNECT = `connect(socket, socketOptions) { let connection = new SMTPConnection(this, socket, socketOptions);
  this.connections.add(connection); connection.on('error', err => this._onError(err)); connection.on('connect',
  data => this._onClientConnect(data)); connection.init(); }`;

const code = (source: string) => source.replace(/\/\/.*$/gm, "").replace(/\s+/g, " ").trim();

async function started(options: ConstructorParameters<typeof SMTPServer>[0], waitFor: (address: string) => number) {
  const server = new SMTPServer({ logger: false, disableReverseLookup: true, authOptional: true,
    hideENHANCEDSTATUSCODES: false, ...options });
  assert.equal(adaptConnections(server, waitFor), true);
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  return { server, port: (server.server.address() as AddressInfo).port };
}

describe("smtp-server adapter", () => {
  it("is written for the installed smtp-server, pinned exactly", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      dependencies: Record<string, string> };
    assert.equal(pkg.dependencies["smtp-server"], SMTP_SERVER_VERSION);
    assert.equal(installedSmtpServerVersion, SMTP_SERVER_VERSION);
  });

  it("mirrors SMTPConnection.init and SMTPServer.connect as the library has them", () => {
    assert.equal(code(SMTPConnection.prototype.init.toString()), code(INIT));
    assert.equal(code(SMTPServer.prototype.connect.toString()), code(CONNECT));
    for (const name of ["_setListeners", "connectionReady", "send"] as const) {
      assert.equal(typeof SMTPConnection.prototype[name], "function", `SMTPConnection.${name}`);
    }
    for (const name of ["_onError", "_onClientConnect"] as const) {
      assert.equal(typeof SMTPServer.prototype[name], "function", `SMTPServer.${name}`);
    }
  });

  it("greets at once when told to, with the client's address, and the session works", async () => {
    const asked: string[] = [];
    let connected = 0;
    const { server, port } = await started({}, (address) => (asked.push(address), 0));
    server.on("connect", () => connected++);
    try {
      const { session, greeting } = await SmtpSession.open(port);
      assert.equal(greeting.code, 220);
      assert.equal((await session.command("EHLO client.example")).code, 250);
      assert.deepEqual(asked, ["127.0.0.1"]);
      assert.equal(connected, 1, "the server's connect event still fires");
      assert.equal(server.connections.size, 1);
      session.close();
    } finally {
      server.close();
    }
  });

  it("still answers 421 to a client that talks before a held greeting", async () => {
    const { server, port } = await started({}, () => 60_000);
    try {
      const socket = connect({ port, host: "127.0.0.1" });
      let got = "";
      socket.setEncoding("latin1").on("data", (chunk: string) => (got += chunk));
      await once(socket, "connect");
      socket.write("EHLO early.example\r\n");
      await once(socket, "close");
      assert.match(got, /^421 4\.7\.0 .*too soon/i, JSON.stringify(got));
    } finally {
      server.close();
    }
  });

  it("still refuses connections past maxClients", async () => {
    const { server, port } = await started({ maxClients: 1 }, () => 0);
    try {
      const first = await SmtpSession.open(port);
      assert.equal(first.greeting.code, 220);
      const second = await SmtpSession.open(port);
      assert.equal(second.greeting.code, 421);
      assert.match(second.greeting.text, /^4\.3\.2 .*Too many connected clients/);
      first.session.close();
      second.session.close();
    } finally {
      server.close();
    }
  });

  it("gives smtp-server's own replies an RFC 3463 code, once, and none to the greeting and EHLO", async () => {
    const { server, port } = await started({
      socketTimeout: 1500,
      onRcptTo: (_a, _s, cb) => cb(Object.assign(new Error("5.1.1 No such mailbox here"), { responseCode: 550 })),
    }, () => 0);
    try {
      const { session, greeting } = await SmtpSession.open(port);
      assert.doesNotMatch(greeting.text, /^\d\.\d+\.\d+ /, "RFC 2034 §3: the greeting has none");
      assert.equal((await session.command("MAIL FROM:<a@b.example>")).text, "5.5.1 Error: send HELO/EHLO first");
      const ehlo = await session.command("EHLO client.example");
      assert.match(ehlo.text, /^ENHANCEDSTATUSCODES$/m);
      assert.doesNotMatch(ehlo.text, /^\d\.\d+\.\d+ /m);
      assert.equal((await session.command("MAIL FROM:<a@b.example>")).text, "2.1.0 Accepted");
      assert.equal((await session.command("RCPT TO:<x@y.example>")).text, "5.1.1 No such mailbox here", "ours, not doubled");
      assert.equal((await session.command("BOGUS")).text, "5.5.2 Error: command not recognized");
      assert.equal((await session.command("NOOP")).text, "2.0.0 OK");
      // smtp-server's idle timer (socketTimeout)
      const idle = await session.read(10_000);
      assert.equal(idle.code, 421);
      assert.equal(idle.text, "4.4.2 Timeout - closing connection");
      session.close();
    } finally {
      server.close();
    }
  });
});
