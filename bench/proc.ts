// Reading a process from /proc (Linux): who the gateway is among our children, and its resident size.
import { readdir, readFile } from "node:fs/promises";

/** Our child process whose command line contains every one of `words` (bin/passerelle execs node). */
export async function findChild(words: string[]): Promise<number> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid !== process.pid) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    if (words.every((w) => cmdline.some((arg) => arg.includes(w)))) return Number(entry);
  }
  throw new Error(`no child process with ${words.join(" ")}`);
}

/** Resident set size in MiB (VmRSS). */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) / 1024;
}

/** Sample RSS every `everyMs` until stopped; `peak()` is the highest value so far, `stop()` the final one. */
export function sampleRss(pid: number, everyMs = 20): { peak(): Promise<number>; stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssMiB(pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    peak: async () => Math.max(peak, await rssMiB(pid).catch(() => 0)),
    async stop() {
      running = false;
      await loop;
      return Math.max(peak, await rssMiB(pid).catch(() => 0));
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms; 0 once it is gone. */
export async function cpuMs(pid: number, withChildren = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux); cutime and
  // cstime (16, 17) are those of its children that ended and were waited for.
  const ticks = Number(fields[11]) + Number(fields[12]) + (withChildren ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1000) / 100;
}
