// What a test needs from a real XMPP server (Prosody or ejabberd): the same shape for both, so
// stack.ts and the tests can run against either.

export interface XmppServerOptions {
  domain?: string; // default "localhost"
  /** Prosody only: more VirtualHosts, whose accounts are another server's as the gateway sees them */
  otherDomains?: string[];
  componentDomain: string;
  componentSecret: string;
  /** XEP-0356: grant the component roster ("both") and message ("outgoing") permission; default off */
  privilege?: boolean;
}

export interface XmppServer {
  domain: string;
  componentDomain: string;
  componentSecret: string;
  c2sPort: number; // plain TCP on 127.0.0.1, no STARTTLS, PLAIN allowed
  componentPort: number; // XEP-0114 on 127.0.0.1
  /** its XEP-0363 upload service and the HTTP port files are served on, when it runs one */
  upload?: { domain: string; httpPort: number };
  /** its XEP-0045 conference service (Prosody's muc component, ejabberd's mod_muc) */
  muc: string;
  dir: string; // temp dir with config, data, logs
  configPath: string;
  /** an account on `domain` (default: the server's own; another one of `otherDomains`) */
  register(user: string, password: string, domain?: string): Promise<void>;
  stop(): Promise<void>; // SIGTERM, wait for a clean shutdown (SIGKILL after a grace period); the ports are free after
  start(): Promise<void>; // (re)start on the same ports; resolves when both ports accept TCP
  destroy(): Promise<void>; // stop and remove the temp dir
  logs(): Promise<string>; // console output and the tail of the log file, for failing tests
}
