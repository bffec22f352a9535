// The gateway as a real process (`bin/passerelle serve`), so tests can SIGKILL and restart it.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePorts } from "./ports.ts";
import { waitFor } from "./wait.ts";

const BIN = fileURLToPath(new URL("../../bin/passerelle", import.meta.url));

export interface GatewayOptions {
  databaseUrl?: string;
  dataDir?: string;
  mailDomains: string;
  xmppService: string;
  xmppDomain: string;
  xmppSecret: string;
  env?: Record<string, string>;
}

export interface Gateway {
  smtpPort: number;
  httpPort: number;
  env: Record<string, string>;
  output(): string;
  /** the process id of the current run (for /proc/<pid>/status), undefined before start */
  pid(): number | undefined;
  /** Start (again) on the same ports; resolves when the SMTP listener accepts connections. */
  start(): Promise<void>;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: no cleanup at all. */
  kill(): Promise<void>;
  /** Resolves with the exit code once the current run has exited by itself (e.g. PASSERELLE_CRASH_AT). */
  exited(): Promise<number | null>;
  health(): Promise<{ status: number; body: Record<string, unknown> } | null>;
  /** Run a CLI command with the same environment. */
  cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const [smtpPort, httpPort] = await freePorts(2) as [number, number];
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    MAIL_DOMAINS: options.mailDomains,
    SMTP_LISTEN: `127.0.0.1:${smtpPort}`,
    HTTP_LISTEN: `127.0.0.1:${httpPort}`,
    XMPP_SERVICE: options.xmppService,
    XMPP_DOMAIN: options.xmppDomain,
    XMPP_SECRET: options.xmppSecret,
    LOG_LEVEL: "info",
    // Sender authentication needs DNS: tests that check it run a loopback DNS server and set
    // AUTH_MODE and DNS_SERVERS themselves (test/integration/authentication.test.ts); the others never
    // reach the network.
    AUTH_MODE: "off",
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.dataDir ? { DATA_DIR: options.dataDir } : {}),
    ...options.env,
  };
  let child: ChildProcess | null = null;
  let out = "";
  let exited: Promise<number | null> = Promise.resolve(null);

  const health = async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, body: await res.json() as Record<string, unknown> };
    } catch {
      return null;
    }
  };

  return {
    smtpPort, httpPort, env,
    output: () => out,
    pid: () => child?.pid,
    async start() {
      child = spawn(BIN, ["serve"], { env, stdio: ["ignore", "pipe", "pipe"] });
      const c = child;
      c.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
      c.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
      // "close": after the exit and after stdout/stderr have drained, so the output is complete.
      let closed = false;
      exited = new Promise((resolve) => c.once("close", (code) => { closed = true; resolve(code); }));
      const from = out.length; // output accumulates across restarts: look only at this run's
      const marker = '"passerelle started"';
      await waitFor("the gateway to listen", () => closed || out.includes(marker, from), 30_000);
      if (!out.includes(marker, from)) {
        throw new Error(`gateway exited (code ${c.exitCode}) during start:\n${out.slice(from)}`);
      }
    },
    async stop() {
      if (!child || child.exitCode !== null) return child?.exitCode ?? null;
      child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (!child || child.exitCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
    exited: () => exited,
    health,
    cli: (...args) => new Promise((resolve) => {
      const p = spawn(BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
      p.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
      p.on("exit", (code) => resolve({ code, stdout, stderr }));
    }),
  };
}
