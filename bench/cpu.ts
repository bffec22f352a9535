// CPU spent per mail by each part (gateway, PostgreSQL backends of our database, Prosody): a figure
// that, unlike throughput, barely moves when other work shares the machine.
import { cpuMs, findChild } from "./proc.ts";
import type { BenchStack } from "./stack.ts";

/** `load`: this process (the receiving chat client, the Node load generator) and the smtp-source runs
 * that ended (children it waited for): the side of the machine the gateway does not own. */
export interface CpuUse { gateway: number; postgres: number; prosody: number; load: number }

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
  return out;
}

/** Start measuring; `stop()` gives the CPU ms each part used since. */
export async function startCpuMeter(stack: BenchStack): Promise<{ stop(): Promise<CpuUse> }> {
  const before = await snapshot(stack);
  return {
    async stop() {
      const after = await snapshot(stack);
      const use: CpuUse = { gateway: 0, postgres: 0, prosody: 0, load: 0 };
      for (const [key, ms] of after) {
        const part = key.slice(0, key.indexOf(":")) as keyof CpuUse;
        use[part] += ms - (before.get(key) ?? 0);
      }
      return use;
    },
  };
}
