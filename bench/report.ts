// Figures from each run → medians, ratios to smtp-sink, targets; printed as a table and kept as JSON.
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { median } from "./stats.ts";

/** A target (BENCHMARKS.md), on the gateway's median (min/max) or on its ratio to smtp-sink. */
export interface Target { min?: number; max?: number; minRatio?: number }

export interface Sample {
  scenario: string;
  metric: string;
  unit: string;
  gateway: number;
  /** the same figure for smtp-sink under the same load, when there is one */
  reference: number | null;
  target?: Target;
}

export interface Row {
  scenario: string; metric: string; unit: string; runs: number;
  gateway: number; reference: number | null; ratio: number | null; target: string; met: boolean | null;
}

export function summarize(samples: Sample[]): Row[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.scenario}\0${s.metric}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0]!;
    const gateway = median(group.map((s) => s.gateway));
    const refs = group.flatMap((s) => (s.reference === null ? [] : [s.reference]));
    const reference = refs.length ? median(refs) : null;
    const ratio = reference ? gateway / reference : null;
    return { scenario: first.scenario, metric: first.metric, unit: first.unit, runs: group.length, gateway, reference, ratio,
      target: describe(first.target, first.unit), met: check(first.target, gateway, ratio) };
  });
}

function describe(t: Target | undefined, unit: string): string {
  if (!t) return "";
  return [t.min !== undefined ? `≥ ${t.min} ${unit}` : "", t.max !== undefined ? `< ${t.max} ${unit}` : "",
    t.minRatio !== undefined ? `≥ ${t.minRatio}× sink` : ""].filter(Boolean).join(", ");
}

function check(t: Target | undefined, value: number, ratio: number | null): boolean | null {
  if (!t) return null;
  if (t.min !== undefined && !(value >= t.min)) return false;
  if (t.max !== undefined && !(value < t.max)) return false;
  if (t.minRatio !== undefined && !(ratio !== null && ratio >= t.minRatio)) return false;
  return true;
}

const fmt = (n: number | null): string =>
  n === null || Number.isNaN(n) ? "–" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

export function markdownTable(rows: Row[]): string {
  const lines = ["| scenario | figure | gateway (median) | smtp-sink (median) | ratio | target | met |", "|---|---|---:|---:|---:|---|---|"];
  for (const r of rows) {
    lines.push(`| ${r.scenario} | ${r.metric} (${r.unit}) | ${fmt(r.gateway)} | ${fmt(r.reference)} | ${r.ratio === null ? "–" : r.ratio.toFixed(2)} | ${r.target} | ${r.met === null ? "" : r.met ? "yes" : "**no**"} |`);
  }
  return lines.join("\n");
}

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return { cpus: cpu.length, model: cpu[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(),
    node: process.version };
}

/** Write `<out>/bench-<time>.json`, `<out>/latest.json` and `<out>/latest.md`; returns the JSON path. */
export async function writeResults(out: string, data: { options: unknown; samples: Sample[]; rows: Row[]; command: string })
  : Promise<string> {
  await mkdir(out, { recursive: true });
  const at = new Date().toISOString();
  const json = JSON.stringify({ date: at, machine: machine(), ...data }, null, 2);
  const file = join(out, `bench-${at.replace(/[:.]/g, "-")}.json`);
  await writeFile(file, json);
  await writeFile(join(out, "latest.json"), json);
  await writeFile(join(out, "latest.md"), `${markdownTable(data.rows)}\n\n${at}, \`${data.command}\`, ${JSON.stringify(machine())}\n`);
  return file;
}
