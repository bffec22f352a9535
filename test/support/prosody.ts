// A real Prosody (Debian package, 0.12) per test file: own temp dir, own config, free ports on
// 127.0.0.1, run in the foreground as a child process so it can be stopped and restarted on the
// same ports while the code under test keeps reconnecting.
import { type ChildProcess, execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { freePorts } from "./ports.ts";
import { accepts, readFrom, spawnServer, within } from "./server-process.ts";
import type { XmppServer, XmppServerOptions } from "./xmpp-server.ts";

export type ProsodyOptions = XmppServerOptions;

/** Prosody always runs mod_http_file_share (XEP-0363) on a free HTTP port. */
export interface Prosody extends XmppServer {
  upload: { domain: string; httpPort: number };
}

const TEMPLATE = new URL("./prosody.cfg.lua.template", import.meta.url);
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LIMIT = 64 * 1024;
const LOG_TAIL = 64 * 1024;
const BIND_FAILURE = /Failed to open server port|Error binding encrypted port/;
const run = promisify(execFile);

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
      await writeFile(prosody.configPath, renderConfig(template, dir, prosody, opts.otherDomains ?? [], opts.privilege ?? false));
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
    const spawned = spawnServer("prosody", ["-F", "--config", configPath], { cwd: dir }, append);
    child = spawned.proc;
    exited = spawned.exited;

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

  const register = async (user: string, password: string, domain?: string): Promise<void> => {
    const args = ["--config", configPath, "register", user, domain ?? settings.domain ?? "localhost", password];
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
    upload: { domain: `upload.${settings.domain ?? "localhost"}`, httpPort: settings.httpPort },
    muc: `conference.${settings.domain ?? "localhost"}`,
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

function renderConfig(template: string, dir: string, prosody: Prosody, otherDomains: string[], privilege: boolean): string {
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
    HTTP_PORT: String(prosody.upload.httpPort),
    HTTP_URL: luaString(`http://127.0.0.1:${prosody.upload.httpPort}/`),
    UPLOAD_DOMAIN: luaString(prosody.upload.domain),
    MUC_DOMAIN: luaString(prosody.muc),
    // XEP-0356: roster read and write, and messages as a user (README_mod_privilege).
    // With it, the archive (XEP-0313) too: a message sent as the user is kept as theirs.
    PRIVILEGED_ENTITIES: privilege ? `\tmodules_enabled = { "privilege"; "mam" }\n\tprivileged_entities = {\n\t\t[${luaString(prosody.componentDomain)}] = { roster = "both"; message = "outgoing" };\n\t}` : "",
    COMPONENT_MODULES: privilege ? `\tmodules_enabled = { "privilege" }` : "",
  };
  const config = template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`prosody template: unknown placeholder ${name}`);
    return value;
  });
  if (config.includes("{{")) throw new Error("prosody template: unreplaced placeholder");
  return config + otherDomains.map((d) => `\nVirtualHost ${luaString(d)}\n`).join("");
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
