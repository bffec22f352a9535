// Where the gateway's CPU time went: V8 .cpuprofile files (node --cpu-prof) summed by package or
// source file and by function, self time only. Also runnable alone: node bench/profile.ts DIR
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** `node_modules/pg/lib/x.js` → `pg`; `…/src/queue/worker.ts` → `src/queue/worker.ts`; `node:net` → `node:net`. */
export function place(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  const src = /\/(src\/.*)$/.exec(url);
  if (src) return src[1]!;
  return url.startsWith("node:") ? url : url.replace(/^file:\/\/.*\//, "");
}

function selfTimes(profile: CpuProfile): Map<ProfileNode, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<ProfileNode, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node) self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return self;
}

/** Native code and node: internals are charged to the nearest caller in a package or in src/. */
function owner(node: ProfileNode, parents: Map<number, ProfileNode>): string {
  for (let n: ProfileNode | undefined = node; n; n = parents.get(n.id)) {
    const where = place(n.callFrame.url, n.callFrame.functionName);
    if (!where.startsWith("node:") && !where.startsWith("(")) return where;
  }
  return place(node.callFrame.url, node.callFrame.functionName);
}

export async function summarizeProfiles(dir: string, top = 25): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile"));
  const byPlace = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), "utf8")) as CpuProfile;
    const parents = new Map<number, ProfileNode>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n);
    for (const [node, us] of selfTimes(profile)) {
      const { functionName, url, lineNumber } = node.callFrame;
      const where = place(url, functionName);
      if (where === "(idle)") continue;
      total += us;
      byPlace.set(where, (byPlace.get(where) ?? 0) + us);
      const who = owner(node, parents);
      byOwner.set(who, (byOwner.get(who) ?? 0) + us);
      const fn = `${functionName || "(anonymous)"} ${where}${url ? `:${lineNumber + 1}` : ""}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    }
  }
  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
  return [`CPU profile of the gateway: ${files.length} file(s) in ${dir}, ${(total / 1000).toFixed(0)} ms busy (idle excluded)`,
    "\nself time by package / source file:", list(byPlace),
    "\nthe same, native code and node: internals charged to their nearest package or src/ caller:", list(byOwner),
    "\nself time by function:", list(byFunction)].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: node bench/profile.ts PROFILE_DIR");
  console.log(await summarizeProfiles(dir));
}
