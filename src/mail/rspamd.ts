// rspamd's HTTP protocol (https://rspamd.com/doc/developers/protocol.html): POST /checkv2 on the
// normal worker with the mail as the body and the envelope in headers (From, IP, Helo, Rcpt, Queue-Id);
// the answer is JSON with `action`, `score`, `required_score` and `symbols`. POST /learnspam on the
// controller learns a mail as spam (Bayes). Every call has a time limit and reads a bounded answer;
// checks in flight are bounded overall (docs/design.md §Budgets): past it a check is not made.
import type { SpamVerdict } from "../core/types.ts";

export interface RspamdConfig {
  url: string;
  controllerUrl: string | null;
  password: string | null;
  timeoutMs: number;
  maxConcurrent: number;
}

export interface CheckInput {
  raw: Buffer;
  mailFrom: string;
  ip: string | null;
  helo: string | null;
  recipients: string[];
  queueId: string;
}

export type CheckResult =
  | { kind: "verdict"; verdict: SpamVerdict }
  /** not checked: why, in words (unreachable, timed out, a bad answer, or the budget spent) */
  | { kind: "unavailable"; why: string };

/** rspamd's JSON answer is small; a symbol list past this is not an answer we read. */
const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_SYMBOLS = 50;

export function createRspamd(config: RspamdConfig) {
  let inFlight = 0;
  const auth: Record<string, string> = config.password ? { Password: config.password } : {};

  return {
    /** Never throws: trouble is an `unavailable` result, and the caller's setting decides. */
    async check(input: CheckInput): Promise<CheckResult> {
      if (inFlight >= config.maxConcurrent) return { kind: "unavailable", why: `busy (${config.maxConcurrent} checks in flight)` };
      inFlight++;
      try {
        const headers: Record<string, string> = { "Queue-Id": headerSafe(input.queueId),
          ...(input.mailFrom ? { From: headerSafe(input.mailFrom) } : {}),
          ...(input.ip ? { IP: input.ip } : {}), ...(input.helo ? { Helo: headerSafe(input.helo) } : {}) };
        // The protocol takes one Rcpt header per recipient; fetch joins repeated names with ", ".
        const body = await post(`${config.url}/checkv2`, input.raw, { ...headers, ...(input.recipients.length ? { Rcpt: headerSafe(input.recipients.join(", "), 4000) } : {}) }, config.timeoutMs);
        if ("failed" in body) return { kind: "unavailable", why: body.failed };
        return { kind: "verdict", verdict: readVerdict(body.json) };
      } finally {
        inFlight--;
      }
    },

    /** "learned", or what rspamd or the network said; null when no controller is configured. */
    async learnSpam(raw: Buffer): Promise<string | null> {
      if (!config.controllerUrl) return null;
      const body = await post(`${config.controllerUrl}/learnspam`, raw, auth, config.timeoutMs);
      if ("failed" in body) return body.failed;
      const answer = body.json as { success?: boolean; error?: string };
      return answer.success ? "learned" : String(answer.error ?? "not learned");
    },

    inFlight: () => inFlight,
  };
}

export type Rspamd = ReturnType<typeof createRspamd>;

async function post(url: string, raw: Buffer, headers: Record<string, string>, timeoutMs: number)
  : Promise<{ json: unknown } | { failed: string }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { method: "POST", body: raw, headers, signal });
    const text = await readBounded(res, MAX_ANSWER_BYTES);
    if (text === null) return { failed: `answer over ${MAX_ANSWER_BYTES} bytes` };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { failed: `HTTP ${res.status}, not JSON` };
    }
    // The controller answers errors (already learned, too few tokens) with a 2xx-4xx and {"error": …}.
    if (!res.ok && !(json && typeof json === "object" && "error" in json)) return { failed: `HTTP ${res.status}` };
    return { json };
  } catch (err) {
    return { failed: signal.aborted ? `no answer within ${timeoutMs} ms` : `unreachable (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message})` };
  }
}

/** The body as text, or null once it passes `max` bytes (the rest is not read). */
async function readBounded(res: Response, max: number): Promise<string | null> {
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) {
      await res.body.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The verdict from rspamd's answer, taking only what has the expected shape; the highest-scoring symbols first. */
export function readVerdict(json: unknown): SpamVerdict {
  const a = (json && typeof json === "object" ? json : {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.round(v * 100) / 100 : null);
  const symbols = a.symbols && typeof a.symbols === "object" ? Object.entries(a.symbols as Record<string, { score?: unknown }>) : [];
  return {
    action: typeof a.action === "string" ? a.action.slice(0, 40) : null,
    score: num(a.score),
    required: num(a.required_score),
    symbols: symbols.map(([name, s]) => ({ name: name.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 64), score: num(s?.score) ?? 0 }))
      .filter((s) => s.name).sort((x, y) => Math.abs(y.score) - Math.abs(x.score)).slice(0, MAX_SYMBOLS).map((s) => s.name),
  };
}

/** An HTTP header value holds no CR, LF or NUL (RFC 9110 §5.5); a HELO name may hold anything. */
function headerSafe(value: string, max = 255): string {
  return value.replace(/[^\x20-\x7E]/g, "?").slice(0, max);
}
