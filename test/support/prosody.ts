// A real Prosody (Debian package, 0.12) per test file: own temp dir, own config, free ports on
// 127.0.0.1, run in the foreground as a child process so it can be stopped and restarted on the
// same ports while the code under test keeps reconnecting.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { freePorts } from "./ports.ts";

export interface ProsodyOptions {
  domain?: string; // default "localhost"
  componentDomain: string;
  componentSecret: string;
}

export interface Prosody {
  domain: string;
  componentDomain: string;
  componentSecret: string;
  c2sPort: number;
  componentPort: number;
  /** XEP-0363 upload service (mod_http_file_share) and the HTTP port it serves files on */
  uploadDomain: string;
  httpPort: number;
  dir: string; // temp dir with config, data, logs
  configPath: string;
  register(user: string, password: string): Promise<void>;
  stop(): Promise<void>; // SIGTERM, wait for a clean shutdown (SIGKILL after 5 s); the ports are free after
  start(): Promise<void>; // (re)start on the same ports; resolves when both ports accept TCP
  destroy(): Promise<void>; // stop and remove the temp dir
  logs(): Promise<string>; // console output and the tail of the log file, for failing tests
}

const TEMPLATE = new URL("./prosody.cfg.lua.template", import.meta.url);
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LIMIT = 64 * 1024;
const LOG_TAIL = 64 * 1024;
const BIND_FAILURE = /Failed to open server port|Error binding encrypted port/;
const run = promisify(execFile);

// Prosody must not outlive the test process, even when a test forgets destroy() or the run is
// interrupted (a signal skips "exit" handlers: kill Prosody, then die of the same signal).
const live = new Set<ChildProcess>();
const killAll = (): void => {
  for (const child of live) child.kill("SIGKILL");
};
process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    killAll();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

export async function startProsody(opts: ProsodyOptions): Promise<Prosody> {
  const dir = await mkdtemp(join(tmpdir(), "passerelle-prosody-"));
  await mkdir(join(dir, "data"));
  await mkdir(join(dir, "certs"));
  const template = await readFile(TEMPLATE, "utf8");
  // freePort() races with other processes: on a bind failure at the first start, take new ports.
  for (let attempt = 1; ; attempt++) {
    const [c2sPort, componentPort, httpPort] = (await freePorts(3)) as [number, number, number];
    const prosody = createProsody(dir, { ...opts, c2sPort, componentPort, httpPort });
    try {
      await writeFile(prosody.configPath, renderConfig(template, dir, prosody));
      await prosody.start();
      return prosody;
    } catch (err) {
      await prosody.stop();
      if (attempt < 3 && (err as { code?: unknown }).code === "EADDRINUSE") continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

interface Settings extends ProsodyOptions {
  c2sPort: number;
  componentPort: number;
  httpPort: number;
}

function createProsody(dir: string, settings: Settings): Prosody {
  const configPath = join(dir, "prosody.cfg.lua");
  const logFile = join(dir, "prosody.log");
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";
  let starts = 0;
  let logOffset = 0; // size of the log file when the current process was started

  const append = (text: string): void => {
    output = (output + text).slice(-OUTPUT_LIMIT);
  };

  const logs = async (): Promise<string> => {
    const file = await readFrom(logFile, -LOG_TAIL);
    return `--- prosody console (${dir}) ---\n${output}\n--- ${logFile} (tail) ---\n${file}`;
  };

  const logSinceStart = (): Promise<string> => readFrom(logFile, logOffset);

  // pid is undefined when the spawn itself failed (no prosody binary).
  const running = (): boolean =>
    child?.pid !== undefined && child.exitCode === null && child.signalCode === null;

  const stop = async (): Promise<void> => {
    const current = child;
    if (current === undefined) return;
    if (running()) {
      current.kill("SIGTERM");
      // 0.12 logs "Shutdown complete" once sessions are closed and data is written, then idles ~1 s
      // (net/server_epoll.lua closes the last listeners on a 1 s timer) before it exits: skip that.
      const deadline = Date.now() + STOP_TIMEOUT_MS;
      while (running() && Date.now() < deadline) {
        if ((await logSinceStart()).includes("Shutdown complete")) break;
        await within(exited, 50);
      }
      if (running()) current.kill("SIGKILL");
      if (!(await within(exited, STOP_TIMEOUT_MS))) throw new Error(`prosody pid ${current.pid} did not die`);
    }
    child = undefined;
  };

  const start = async (): Promise<void> => {
    if (running()) return;
    logOffset = await stat(logFile).then((s) => s.size, () => 0);
    append(`--- start #${++starts} ---\n`);
    // -F: foreground (the `daemonize` config option is deprecated in 0.12).
    const proc = spawn("prosody", ["-F", "--config", configPath], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    live.add(proc);
    exited = new Promise((resolve) => {
      proc.once("exit", (code, signal) => {
        live.delete(proc);
        append(`--- exited: code ${code}, signal ${signal} ---\n`);
        resolve();
      });
    });
    proc.once("error", (err) => append(`--- spawn error: ${err.message} ---\n`));
    // Unreferenced, with its pipes: a forgotten destroy() must not hang the test run (killAll does it).
    proc.unref();
    for (const stream of [proc.stdout, proc.stderr] as Array<Socket | null>) {
      stream?.setEncoding("utf8");
      stream?.on("data", append);
      stream?.unref();
    }

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (!running()) throw await startError("prosody exited during start-up");
      if (BIND_FAILURE.test(await logSinceStart())) throw Object.assign(await startError("prosody could not bind its ports"), { code: "EADDRINUSE" });
      if ((await accepts(settings.c2sPort)) && (await accepts(settings.componentPort))) return;
      if (Date.now() > deadline) throw await startError(`ports not accepting after ${START_TIMEOUT_MS} ms`);
      await sleep(100);
    }
  };

  const startError = async (message: string): Promise<Error> =>
    new Error(`${message} (c2s ${settings.c2sPort}, component ${settings.componentPort})\n${await logs()}`);

  const register = async (user: string, password: string): Promise<void> => {
    const args = ["--config", configPath, "register", user, settings.domain ?? "localhost", password];
    try {
      await run("prosodyctl", args, { cwd: dir, timeout: 10_000 });
    } catch (err) {
      const { stdout = "", stderr = "" } = err as { stdout?: string; stderr?: string };
      throw new Error(`prosodyctl register ${user} failed: ${(err as Error).message}\n${stdout}${stderr}`);
    }
  };

  return {
    domain: settings.domain ?? "localhost",
    componentDomain: settings.componentDomain,
    componentSecret: settings.componentSecret,
    c2sPort: settings.c2sPort,
    componentPort: settings.componentPort,
    uploadDomain: `upload.${settings.domain ?? "localhost"}`,
    httpPort: settings.httpPort,
    dir,
    configPath,
    register,
    stop,
    start,
    logs,
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function renderConfig(template: string, dir: string, prosody: Prosody): string {
  const values: Record<string, string> = {
    PIDFILE: luaString(join(dir, "prosody.pid")),
    DATA_PATH: luaString(join(dir, "data")),
    CERTS_PATH: luaString(join(dir, "certs")),
    LOG_FILE: luaString(join(dir, "prosody.log")),
    C2S_PORT: String(prosody.c2sPort),
    COMPONENT_PORT: String(prosody.componentPort),
    DOMAIN: luaString(prosody.domain),
    COMPONENT_DOMAIN: luaString(prosody.componentDomain),
    COMPONENT_SECRET: luaString(prosody.componentSecret),
    HTTP_PORT: String(prosody.httpPort),
    HTTP_URL: luaString(`http://127.0.0.1:${prosody.httpPort}/`),
    UPLOAD_DOMAIN: luaString(prosody.uploadDomain),
  };
  const config = template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`prosody template: unknown placeholder ${name}`);
    return value;
  });
  if (config.includes("{{")) throw new Error("prosody template: unreplaced placeholder");
  return config;
}

/** A Lua 5.4 double-quoted string literal; control characters as decimal escapes. */
function luaString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\${String(code).padStart(3, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The file from byte `offset` to its end (from `size + offset` when negative); "" when missing. */
async function readFrom(path: string, offset: number): Promise<string> {
  const handle = await open(path, "r").catch(() => undefined);
  if (handle === undefined) return "";
  try {
    const { size } = await handle.stat();
    const position = Math.max(0, offset < 0 ? size + offset : offset);
    const buffer = Buffer.alloc(Math.max(0, size - position));
    await handle.read(buffer, 0, buffer.length, position);
    return buffer.toString("utf8");
  } finally {
    await handle.close();
  }
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  const timer = sleep(ms, false, { signal: timeout.signal }).catch(() => false);
  const result = await Promise.race([promise.then(() => true), timer]);
  timeout.abort();
  return result;
}
