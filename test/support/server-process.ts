// Helpers shared by the harnesses that run a real server as a foreground child process
// (prosody.ts, ejabberd.ts): kill-on-exit, log reading, port probing.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { open } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

// A server must not outlive the test process, even when a test forgets destroy() or the run is
// interrupted (a signal skips "exit" handlers: kill the servers, then die of the same signal).
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

/** Kill `child` with SIGKILL if the test process exits while it still runs. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** The file from byte `offset` to its end (from `size + offset` when negative); "" when missing. */
export async function readFrom(path: string, offset: number): Promise<string> {
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

/** Whether a TCP connection to 127.0.0.1:`port` is accepted (within 500 ms). */
export async function accepts(port: number): Promise<boolean> {
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

/** Whether `promise` settles within `ms`. */
export async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  const timer = sleep(ms, false, { signal: timeout.signal }).catch(() => false);
  const result = await Promise.race([promise.then(() => true), timer]);
  timeout.abort();
  return result;
}

/**
 * Spawn a server in the foreground for a harness: killed if the test process dies, never keeping the
 * test run alive (unreferenced, with its pipes), its output and exit appended to `append`. Resolves
 * `exited` once it is gone.
 */
export function spawnServer(command: string, args: string[], options: SpawnOptions, append: (text: string) => void)
  : { proc: ChildProcess; exited: Promise<void> } {
  const proc = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  killOnExit(proc);
  const exited = new Promise<void>((resolve) => {
    proc.once("exit", (code, signal) => {
      append(`--- exited: code ${code}, signal ${signal} ---\n`);
      resolve();
    });
  });
  proc.once("error", (err) => append(`--- spawn error: ${err.message} ---\n`));
  proc.unref();
  for (const stream of [proc.stdout, proc.stderr] as Array<Socket | null>) {
    stream?.setEncoding("utf8");
    stream?.on("data", append);
    stream?.unref();
  }
  return { proc, exited };
}
