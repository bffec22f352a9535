// CPU spent per mail by each part (gateway, PostgreSQL backends of our database, Prosody): a figure
// that, unlike throughput, barely moves when other work shares the machine.
import { readdir, readFile } from "node:fs/promises";
import { cpuMs, findChild } from "./proc.ts";
import type { BenchStack } from "./stack.ts";

/** `load`: this process (the receiving chat client, the Node load generator) and the smtp-source runs
 * that ended (children it waited for): the side of the machine the gateway does not own. */
export interface CpuUse {
  gateway: number; postgres: number; prosody: number; load: number;
  /** the gateway's CPU by thread name: MainThread, auth (sender authentication), WorkerThread (the
   * parse pool), V8Worker (GC and compiler helpers), libuv-worker; a thread that ended is not counted */
  threads: Record<string, number>;
}

/** CPU ms of each thread of `pid` by `name:tid` (/proc/<pid>/task: comm is the thread's name). */
async function threadsOf(pid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const name = (await readFile(`/proc/${pid}/task/${tid}/comm`, "utf8").catch(() => "")).trim();
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => "");
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(`${name}:${tid}`, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
  }
  return out;
}

async function snapshot(stack: BenchStack): Promise<Map<string, number>> {
  const pids = new Map<string, number[]>([
    ["gateway", [await stack.gatewayPid()]],
    ["prosody", [await findChild(["prosody"]).catch(() => 0)].filter(Boolean)],
    ["postgres", (await stack.db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")).map((r) => r.pid)],
  ]);
  const out = new Map<string, number>();
  for (const [part, list] of pids) for (const pid of list) out.set(`${part}:${pid}`, await cpuMs(pid));
  out.set(`load:${process.pid}`, await cpuMs(process.pid, true));
  for (const [key, ms] of await threadsOf(pids.get("gateway")![0]!)) out.set(`thread:${key}`, ms);
  return out;
}

/** Start measuring; `stop()` gives the CPU ms each part used since. */
export async function startCpuMeter(stack: BenchStack): Promise<{ stop(): Promise<CpuUse> }> {
  const before = await snapshot(stack);
  return {
    async stop() {
      const after = await snapshot(stack);
      const use: CpuUse = { gateway: 0, postgres: 0, prosody: 0, load: 0, threads: {} };
      for (const [key, ms] of after) {
        const used = ms - (before.get(key) ?? 0);
        if (key.startsWith("thread:")) {
          const name = key.slice(7, key.lastIndexOf(":"));
          use.threads[name] = (use.threads[name] ?? 0) + used;
        } else use[key.slice(0, key.indexOf(":")) as "gateway" | "postgres" | "prosody" | "load"] += used;
      }
      return use;
    },
  };
}
