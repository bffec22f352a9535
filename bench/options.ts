// `npm run bench -- [options]`: defaults small enough for a few minutes on a 2-core machine.
import { parseArgs } from "node:util";

export interface BenchOptions {
  runs: number;
  mails: number;
  senders: number;
  rate: number;
  seconds: number;
  outbound: number;
  idleSessions: number;
  bigMailMiB: number;
  /** scenario 7: mails accepted while the XMPP server is away */
  backlog: number;
  scenarios: Set<number>;
  /** write a V8 CPU profile of the gateway (--cpu-prof) into the results folder */
  profile: boolean;
  /** write the gateway's output (pino JSON) to <out>/gateway.log */
  keepLogs: boolean;
  logLevel: string;
  out: string;
}

const USAGE = `npm run bench -- [--runs 3] [--mails 2000] [--senders 20] [--rate 200] [--seconds 10]
  [--outbound 1000] [--idle-sessions 1000] [--big-mail-mib 25] [--backlog 100000] [--only 1,2,3,4,5,6] [--profile]
  [--keep-logs] [--log-level info] [--out bench/results]`;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: "string", default: "3" },
      mails: { type: "string", default: "2000" },
      senders: { type: "string", default: "20" },
      rate: { type: "string", default: "200" },
      seconds: { type: "string", default: "10" },
      outbound: { type: "string", default: "1000" },
      "idle-sessions": { type: "string", default: "1000" },
      "big-mail-mib": { type: "string", default: "25" },
      // Scenario 7 (backlog) runs only when asked for (--only 7); BENCH_BACKLOG=10000 for a quick run.
      backlog: { type: "string", default: process.env.BENCH_BACKLOG ?? "100000" },
      only: { type: "string", default: "1,2,3,4,5,6" },
      profile: { type: "boolean", default: false },
      "keep-logs": { type: "boolean", default: false },
      "log-level": { type: "string", default: "info" },
      out: { type: "string", default: "bench/results" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, not ${value}\n${USAGE}`);
    return n;
  };
  return {
    runs: int("runs", values.runs),
    mails: int("mails", values.mails),
    senders: int("senders", values.senders),
    rate: int("rate", values.rate),
    seconds: int("seconds", values.seconds),
    outbound: int("outbound", values.outbound),
    idleSessions: int("idle-sessions", values["idle-sessions"]),
    bigMailMiB: int("big-mail-mib", values["big-mail-mib"]),
    backlog: int("backlog", values.backlog),
    scenarios: new Set(values.only.split(",").map((s) => int("only", s.trim()))),
    profile: values.profile,
    keepLogs: values["keep-logs"],
    logLevel: values["log-level"],
    out: values.out,
  };
}
