// A headless desktop for real GUI clients: Xvfb on a display it picks itself, openbox as the window
// manager (placement and focus like a desktop), programs run as an unprivileged user (GUI clients such
// as Gajim refuse to run as root), screenshots with ImageMagick and OCR with tesseract.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { killOnExit } from "../support/server-process.ts";
import { waitFor } from "../support/wait.ts";

const run = promisify(execFile);
/** The system user GUI clients run as when the tests run as root; created on first use. */
export const CLIENT_USER = "passerelle-client";

export interface Account { name: string; uid: number; gid: number }

/** Who the clients run as: the current user, or (as root) CLIENT_USER, created if missing. */
export async function clientAccount(): Promise<Account | null> {
  if (process.getuid?.() !== 0) return null;
  const lookup = async () => {
    const { stdout } = await run("id", ["-u", CLIENT_USER]).catch(() => ({ stdout: "" }));
    if (stdout.trim() === "") return null;
    const gid = (await run("id", ["-g", CLIENT_USER])).stdout.trim();
    return { name: CLIENT_USER, uid: Number(stdout.trim()), gid: Number(gid) };
  };
  const found = await lookup();
  if (found) return found;
  // A concurrent run may create it first: useradd then fails, and the second lookup finds it.
  await run("useradd", ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", CLIENT_USER])
    .catch(() => undefined);
  const created = await lookup();
  if (!created) throw new Error(`could not create the system user ${CLIENT_USER} (useradd)`);
  return created;
}

/** A fresh private HOME for one client run, owned by the account. */
export async function clientHome(account: Account | null): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), "passerelle-client-"));
  await chmod(home, 0o700);
  if (account) await chown(home, account.uid, account.gid);
  return home;
}

export interface Program {
  proc: ChildProcess;
  output(): string;
  /** SIGTERM to its whole process group, SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Start `command` as `account` (null: as ourselves) with exactly `env`, in its own process group. */
export function startAs(account: Account | null, env: Record<string, string>, command: string, args: string[],
  input?: string): Program {
  const pairs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const [file, argv] = account
    ? ["runuser", ["-u", account.name, "--", "env", "-i", ...pairs, command, ...args]]
    : ["env", ["-i", ...pairs, command, ...args]];
  const proc = spawn(file, argv, { detached: true, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  killOnExit(proc);
  if (input !== undefined) proc.stdin!.end(input);
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once("exit", () => resolve());
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (proc.pid !== undefined) process.kill(-proc.pid, sig);
    } catch { /* already gone */ }
  };
  return {
    proc,
    output: () => out,
    async stop(graceMs = 5_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      signal("SIGTERM");
      const timer = setTimeout(() => signal("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Run to completion as `account`; rejects with the output on a non-zero exit. */
export async function runAs(account: Account | null, env: Record<string, string>, command: string, args: string[],
  input?: string): Promise<string> {
  const program = startAs(account, env, command, args, input);
  const code = await new Promise<number | null>((resolve) => program.proc.once("close", resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}:\n${program.output()}`);
  return program.output();
}

export interface Desktop {
  display: string;
  /** xdotool with these arguments on this display; resolves with its output. */
  xdotool(...args: string[]): Promise<string>;
  /** Save `window` (an X window id, default the whole screen) as a PNG. */
  screenshot(path: string, window?: string): Promise<void>;
  stop(): Promise<void>;
}

/** Xvfb (its own free display, no TCP) with openbox running as `account`. */
export async function startDesktop(account: Account | null, home: string, width: number, height: number): Promise<Desktop> {
  const xvfb = startAs(null, { PATH: "/usr/bin:/bin" }, "Xvfb",
    ["-displayfd", "1", "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp", "-noreset"]);
  const number = await waitFor("Xvfb to pick a display", () => /^(\d+)\n/.exec(xvfb.output())?.[1]
    ?? (xvfb.proc.exitCode !== null ? Promise.reject(new Error(xvfb.output())) : undefined), 10_000);
  const display = `:${number}`;
  const wm = startAs(account, { PATH: "/usr/bin:/bin", HOME: home, DISPLAY: display }, "openbox", ["--sm-disable"]);
  const env = { ...process.env, DISPLAY: display };
  const xdotool = async (...args: string[]) => (await run("xdotool", args, { env })).stdout;
  // _NET_CURRENT_DESKTOP (EWMH §3.6) exists once a window manager runs.
  await waitFor("openbox to manage the screen", () => xdotool("get_desktop").then(() => true, () => false), 10_000);
  return {
    display,
    xdotool,
    async screenshot(path, window = "root") {
      await run("import", ["-window", window, path], { env });
    },
    async stop() {
      await wm.stop();
      await xvfb.stop();
    },
  };
}

/** The text tesseract reads on an image (scaled up twice first: UI fonts are small for it). */
export async function ocr(path: string): Promise<string> {
  const big = path.replace(/\.png$/, ".x2.png");
  await run("convert", [path, "-resize", "200%", big]);
  try {
    const { stdout } = await run("tesseract", [big, "-", "--psm", "3"], { maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } finally {
    await rm(big, { force: true });
  }
}
