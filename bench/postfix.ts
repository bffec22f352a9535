// Postfix's load tools (Debian `postfix`, installed by bench/install-tools.sh): smtp-source sends,
// smtp-sink receives and throws away — the speed of SMTP itself on this machine.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { freePort } from "../test/support/ports.ts";

const SBIN = process.env.POSTFIX_SBIN ?? "/usr/sbin";

export interface SourceLoad {
  port: number;
  sessions: number;
  messages: number;
  /** payload bytes after smtp-source's own From/To/Date/Message-Id headers */
  payload: number;
  /** -d: keep each connection open for the next mail */
  reuse: boolean;
  from: string;
  to: string;
  /** -F: send this file's header and body instead of a generated mail (its lines end in LF) */
  file?: string;
}

export interface SourceRun { ms: number; code: number | null; stderr: string }

/** Run smtp-source to completion; `ms` is the wall time from spawn to exit. */
export async function runSmtpSource(load: SourceLoad, onStart?: () => void): Promise<SourceRun> {
  const args = ["-s", String(load.sessions), "-m", String(load.messages), ...(load.file ? [] : ["-l", String(load.payload)]),
    "-f", load.from, "-t", load.to, "-M", "bench.example", ...(load.reuse ? ["-d"] : []),
    ...(load.file ? ["-F", load.file] : []), `127.0.0.1:${load.port}`];
  const started = performance.now();
  const child = spawn(`${SBIN}/smtp-source`, args, { stdio: ["ignore", "ignore", "pipe"] });
  onStart?.();
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  });
  return { ms: performance.now() - started, code, stderr };
}

export interface SmtpSink { port: number; pid: number; stop(): Promise<void> }

/** smtp-sink on a free loopback port; `maxConnections` is its -m (simultaneous sessions). */
export async function startSmtpSink(maxConnections = 256): Promise<SmtpSink> {
  const port = await freePort();
  // As root smtp-sink insists on dropping privileges (-u).
  const user = process.getuid?.() === 0 ? ["-u", "nobody"] : [];
  const child = spawn(`${SBIN}/smtp-sink`, [...user, "-m", String(maxConnections), `127.0.0.1:${port}`, "1024"],
    { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  await waitForPort(port, () => child.exitCode !== null, () => stderr);
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function waitForPort(port: number, dead: () => boolean, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (dead()) throw new Error(`server exited: ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${port}: ${output()}`);
}
