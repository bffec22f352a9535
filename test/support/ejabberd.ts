// A real ejabberd (Debian package, 23.01) per test file, the same way as prosody.ts: own temp dir
// with config, Mnesia spool and logs, free ports on 127.0.0.1, run in the foreground as a child
// process so it can be stopped and restarted on the same ports.
//
// The VM is started with `erl ... -s ejabberd` directly, not through ejabberdctl: run as root,
// ejabberdctl switches to the `ejabberd` user (who cannot read the temp dir) and uses the system
// Erlang cookie. Erlang distribution (needed by ejabberd_ctl for `register`) runs without epmd:
// `-erl_epmd_port` makes the node listen on a fixed, free loopback port and makes the ctl node
// connect straight to it, so instances never meet each other, a system ejabberd, or RabbitMQ.
import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { erlangString, findInstall, type Install, renderConfig } from "./ejabberd-config.ts";
import { freePorts } from "./ports.ts";
import { readFrom, spawnServer, within } from "./server-process.ts";
import type { XmppServer, XmppServerOptions } from "./xmpp-server.ts";

export type EjabberdOptions = XmppServerOptions;

export interface Ejabberd extends XmppServer {
  node: string; // Erlang node name, e.g. ejabberd-1a2b3c4d@localhost; fixed for the instance (Mnesia is bound to it)
  /** Run an ejabberdctl command (`ctl("registered_users", "localhost")`); resolves with its output. */
  ctl(...args: string[]): Promise<string>;
}

const TEMPLATE = new URL("./ejabberd.yml.template", import.meta.url);
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const CTL_TIMEOUT_MS = 20_000;
const OUTPUT_LIMIT = 64 * 1024;
const LOG_TAIL = 64 * 1024;
// A listener that cannot bind stops the application ("failed_to_start_child ... eaddrinuse");
// a taken distribution port stops the VM ("register/listen error: eaddrinuse").
const BIND_FAILURE = /eaddrinuse/;
const ACCEPTING = (port: number): RegExp => new RegExp(`Start accepting TCP connections at 127\\.0\\.0\\.1:${port} `);
const run = promisify(execFile);

interface Settings extends EjabberdOptions {
  c2sPort: number;
  componentPort: number;
  distPort: number;
  node: string;
  cookie: string;
}

export async function startEjabberd(opts: EjabberdOptions): Promise<Ejabberd> {
  const install = await findInstall();
  const dir = await mkdtemp(join(tmpdir(), "passerelle-ejabberd-"));
  await mkdir(join(dir, "spool"));
  const template = await readFile(TEMPLATE, "utf8");
  const suffix = randomBytes(4).toString("hex");
  const node = `ejabberd-${suffix}@localhost`;
  const cookie = randomBytes(16).toString("hex");
  // freePort() races with other processes: on a bind failure at the first start, take new ports.
  for (let attempt = 1; ; attempt++) {
    const [c2sPort, componentPort, distPort] = (await freePorts(3)) as [number, number, number];
    const ejabberd = createEjabberd(dir, install, { ...opts, c2sPort, componentPort, distPort, node, cookie });
    try {
      await writeFile(ejabberd.configPath, renderConfig(template, { ...ejabberd, privilege: opts.privilege ?? false }));
      await ejabberd.start();
      return ejabberd;
    } catch (err) {
      await ejabberd.stop();
      if (attempt < 3 && (err as { code?: unknown }).code === "EADDRINUSE") {
        // Mnesia's schema from the failed start names the same node: start afresh.
        await rm(join(dir, "spool"), { recursive: true, force: true });
        await mkdir(join(dir, "spool"));
        continue;
      }
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }
}

function createEjabberd(dir: string, install: Install, settings: Settings): Ejabberd {
  const configPath = join(dir, "ejabberd.yml");
  const spool = join(dir, "spool");
  const logFile = join(dir, "ejabberd.log"); // ejabberd writes error.log beside it
  const domain = settings.domain ?? "localhost";
  const env = {
    ...process.env,
    EJABBERD_CONFIG_PATH: configPath,
    EJABBERD_LOG_PATH: logFile,
    ERL_LIBS: install.erlLibs,
    ERL_CRASH_DUMP: join(dir, "erl_crash.dump"),
    HOME: dir, // nothing reads or writes the user's ~/.erlang.cookie
  };
  // Distribution on loopback only, without epmd (see the top of the file).
  const distArgs = ["-setcookie", settings.cookie, "-start_epmd", "false", "-erl_epmd_port", String(settings.distPort)];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";
  let outputSinceStart = "";
  let starts = 0;
  let logOffset = 0; // size of the log file when the current VM was started

  const append = (text: string): void => {
    output = (output + text).slice(-OUTPUT_LIMIT);
    outputSinceStart = (outputSinceStart + text).slice(-OUTPUT_LIMIT);
  };

  const logs = async (): Promise<string> => {
    const file = await readFrom(logFile, -LOG_TAIL);
    return `--- ejabberd console (${dir}, node ${settings.node}) ---\n${output}\n--- ${logFile} (tail) ---\n${file}`;
  };

  // pid is undefined when the spawn itself failed.
  const running = (): boolean =>
    child?.pid !== undefined && child.exitCode === null && child.signalCode === null;

  const stop = async (): Promise<void> => {
    const current = child;
    if (current === undefined) return;
    if (running()) {
      // SIGTERM: ejabberd logs "SIGTERM received - shutting down" and runs init:stop(), which
      // closes the listeners at once and Mnesia's files before the VM exits (about a second).
      current.kill("SIGTERM");
      if (!(await within(exited, STOP_TIMEOUT_MS))) current.kill("SIGKILL");
      if (!(await within(exited, STOP_TIMEOUT_MS))) throw new Error(`ejabberd pid ${current.pid} did not die`);
    }
    child = undefined;
  };

  const start = async (): Promise<void> => {
    if (running()) return;
    logOffset = await stat(logFile).then((s) => s.size, () => 0);
    outputSinceStart = "";
    append(`--- start #${++starts} ---\n`);
    const args = [
      "-sname", settings.node, ...distArgs, "-noinput",
      "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
      "-mnesia", "dir", erlangString(spool),
      "-ejabberd", "quiet", "true", // console: critical only; everything else goes to the log file
      "-s", "ejabberd",
    ];
    // `erl` execs the VM, so this pid is beam itself.
    const spawned = spawnServer(install.erl, args, { cwd: spool, env }, append);
    child = spawned.proc;
    exited = spawned.exited;

    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const log = await readFrom(logFile, logOffset);
      if (BIND_FAILURE.test(outputSinceStart) || BIND_FAILURE.test(log)) {
        throw Object.assign(await startError("ejabberd could not bind its ports"), { code: "EADDRINUSE" });
      }
      if (!running()) throw await startError("ejabberd exited during start-up");
      // A listener binds its port early but accepts only once every module has started (a TCP
      // connect succeeds before that, into the backlog, and a SIGTERM then crashes Mnesia half-way):
      // ready is when the log says both listeners accept.
      if (ACCEPTING(settings.c2sPort).test(log) && ACCEPTING(settings.componentPort).test(log)) return;
      if (Date.now() > deadline) throw await startError(`listeners not accepting after ${START_TIMEOUT_MS} ms`);
      await sleep(100);
    }
  };

  const startError = async (message: string): Promise<Error> =>
    new Error(`${message} (c2s ${settings.c2sPort}, component ${settings.componentPort}, dist ${settings.distPort})\n${await logs()}`);

  // ejabberdctl's own way in: a hidden node that connects, runs the command and halts with its status.
  const ctl = async (...command: string[]): Promise<string> => {
    const ctlNode = `ctl-${randomBytes(4).toString("hex")}@localhost`;
    const args = ["-sname", ctlNode, ...distArgs, "-dist_listen", "false", "-hidden", "-noinput",
      "-s", "ejabberd_ctl", "-extra", settings.node, ...command];
    try {
      const { stdout, stderr } = await run(install.erl, args, { cwd: dir, env, timeout: CTL_TIMEOUT_MS });
      return stdout + stderr;
    } catch (err) {
      const { stdout = "", stderr = "" } = err as { stdout?: string; stderr?: string };
      throw new Error(`ejabberdctl ${command[0]} failed: ${(err as Error).message}\n${stdout}${stderr}`);
    }
  };

  const register = async (user: string, password: string): Promise<void> => {
    await ctl("register", user, domain, password);
  };

  return {
    domain,
    muc: `conference.${domain}`,
    componentDomain: settings.componentDomain,
    componentSecret: settings.componentSecret,
    c2sPort: settings.c2sPort,
    componentPort: settings.componentPort,
    dir,
    configPath,
    node: settings.node,
    ctl,
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
