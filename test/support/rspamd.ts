// A real rspamd (Debian package, 3.4) per test file: Debian's own rules (/etc/rspamd) with our
// LOCAL_CONFDIR in a temp dir: a normal worker and a controller on free loopback ports, no proxy or
// fuzzy worker, the modules that need DNS or the network off, the GTUBE test patterns on (`XJS…`
// reject, `YJS…` add header), a subject "greylist me" soft-rejected, Bayes in the local Redis
// (127.0.0.1:6379, a database of its own). Run in the foreground (`-f`); as root it drops
// to the `_rspamd` user (`-u/-g`), which then owns the temp dir.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePorts } from "./ports.ts";
import { spawnServer, within } from "./server-process.ts";
import { waitFor } from "./wait.ts";

export interface Rspamd {
  /** RSPAMD_URL: the normal worker */
  url: string;
  /** the controller (learning) */
  controllerUrl: string;
  /** the Redis database number Bayes uses */
  redisDb: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
  output(): string;
}

/** Modules that look things up in DNS or on the network, or keep state in Redis besides Bayes. */
const OFF = ["rbl", "surbl", "spf", "dkim", "dmarc", "arc", "asn", "fuzzy_check", "emails", "phishing", "neural",
  "reputation", "replies", "ratelimit", "greylist", "history_redis", "mx_check", "dcc", "antivirus", "external_services",
  "rspamd_update", "url_redirector", "bimi", "dkim_signing", "clickhouse", "elastic", "metadata_exporter", "p0f",
  "spamassassin", "whitelist", "maillist", "mid", "hfilter", "once_received"];

const run = promisify(execFile);

/** Started, answering on both ports. */
export async function startRspamd(): Promise<Rspamd> {
  const rspamd = await prepareRspamd();
  try {
    await rspamd.start();
  } catch (err) {
    await rspamd.destroy();
    throw err;
  }
  return rspamd;
}

/** Configured on its ports but not started: `start()` it beside the rest of a stack (it takes seconds). */
export async function prepareRspamd(): Promise<Rspamd> {
  const dir = await mkdtemp(join(tmpdir(), "passerelle-rspamd-"));
  const [normal, controller] = await freePorts(2) as [number, number];
  // One database per run, out of the way of anything else using this Redis.
  const redisDb = 8 + (process.pid % 7);
  const local = join(dir, "local.d");
  const override = join(dir, "override.d");
  await mkdir(local);
  await mkdir(override);
  await mkdir(join(dir, "db"));
  await mkdir(join(dir, "run"));
  const files: Record<string, string> = {
    "override.d/worker-normal.inc": `bind_socket = "127.0.0.1:${normal}";\ncount = 1;\ntask_timeout = 8s;\n`,
    "override.d/worker-controller.inc": `bind_socket = "127.0.0.1:${controller}";\ncount = 1;\nsecure_ip = "127.0.0.1";\n` +
      `static_dir = "\${WWWDIR}";\n`,
    "override.d/worker-proxy.inc": "enabled = false;\n",
    "override.d/worker-fuzzy.inc": "enabled = false;\ncount = -1;\n",
    "local.d/options.inc": `enable_test_patterns = true;\ndns { timeout = 0.2s; retransmits = 1; sockets = 1; }\n`,
    "override.d/logging.inc": `type = "console";\nlevel = "warning";\n`,
    "local.d/redis.conf": `servers = "127.0.0.1:6379";\ndb = "${redisDb}";\n`,
    "local.d/classifier-bayes.conf": `backend = "redis";\nservers = "127.0.0.1:6379";\ndb = "${redisDb}";\nmin_learns = 1;\nmin_tokens = 1;\n`,
    ...Object.fromEntries(OFF.map((m) => [`local.d/${m}.conf`, "enabled = false;\n"])),
    // A prefilter for the tests of `soft reject`: any mail whose subject says "greylist me".
    "local.d/multimap.conf": `TEST_SOFT_REJECT { type = "header"; header = "Subject"; regexp = true; prefilter = true;\n` +
      `  action = "soft reject"; map = "${dir}/soft-reject.map"; }\n`,
    "soft-reject.map": "/greylist me/i\n",
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const asRoot = userInfo().uid === 0;
  if (asRoot) await run("chown", ["-R", "_rspamd:_rspamd", dir]);
  const args = ["-f", "-c", "/etc/rspamd/rspamd.conf", `--var=LOCAL_CONFDIR=${dir}`, `--var=DBDIR=${dir}/db`,
    `--var=RUNDIR=${dir}/run`, `--var=LOGDIR=${dir}`, ...(asRoot ? ["-u", "_rspamd", "-g", "_rspamd"] : [])];
  let output = "";
  const append = (t: string) => { output = (output + t).slice(-64 * 1024); };
  let current: ReturnType<typeof spawnServer> | null = null;
  const url = `http://127.0.0.1:${normal}`;
  const controllerUrl = `http://127.0.0.1:${controller}`;
  const ping = async (base: string) => (await fetch(`${base}/ping`, { signal: AbortSignal.timeout(1000) }).catch(() => null))?.ok ?? false;

  const start = async () => {
    const proc = spawnServer("rspamd", args, {}, append);
    current = proc;
    let gone = false;
    void proc.exited.then(() => { gone = true; });
    try {
      await waitFor("rspamd to answer /ping", async () => gone || (await ping(url) && await ping(controllerUrl)), 120_000, 200);
    } catch (err) {
      throw new Error(`${(err as Error).message}:\n${output}`);
    }
    if (gone) throw new Error(`rspamd exited during start:\n${output}`);
  };
  const stop = async () => {
    if (!current) return;
    const { proc, exited } = current;
    current = null;
    proc.kill("SIGTERM");
    if (!(await within(exited, 5000))) {
      proc.kill("SIGKILL");
      await exited;
    }
  };
  return {
    url, controllerUrl, redisDb, start, stop, output: () => output,
    async destroy() {
      await stop();
      await run("redis-cli", ["-h", "127.0.0.1", "-n", String(redisDb), "flushdb"]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
