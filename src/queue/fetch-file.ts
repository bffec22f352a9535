// Fetching a file a chat user shared, to attach it to their mail. Only from hosts the admin
// lists (FETCH_HOSTS), never an internal address reached through a name, no redirects, bounded size.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { safeFilename } from "../core/attachments.ts";
import type { Hold } from "./byte-budget.ts";

export interface FetchedFile { filename: string; contentType: string; content: Buffer }
/** A fetched file and the memory it is counted against; the caller releases it once the mail is queued. */
export interface HeldFile extends FetchedFile { hold: Hold | null }
/** Waits until `bytes` may be held in memory (queue/byte-budget.ts); called once the size is declared. */
export type Reserve = (bytes: number) => Promise<Hold>;

const TIMEOUT_MS = 30_000;

/** A refusal in words for the user (the error text on their message). */
export class FetchRefused extends Error {
  override name = "FetchRefused";
}

/** Loopback, private (RFC 1918, RFC 4193), link-local (cloud metadata at 169.254.169.254), CGNAT, unspecified. */
export function isInternal(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split(".").map(Number) as [number, number];
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31)
      || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
  }
  const v6 = ip.toLowerCase();
  if (v6.startsWith("::ffff:")) return isInternal(v6.slice(7));
  return v6 === "::" || v6 === "::1" || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || v6.startsWith("ff");
}

export function createFileFetcher(config: { hosts: string[]; maxBytes: number }) {
  return async function fetchFile(url: string, reserve?: Reserve): Promise<HeldFile> {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      throw new FetchRefused("That is not a link the gateway can fetch.");
    }
    if (target.protocol !== "http:" && target.protocol !== "https:") throw new FetchRefused("The gateway fetches only http and https links.");
    const host = target.hostname.toLowerCase();
    const allowed = config.hosts.some((h) => h === host || h === target.host.toLowerCase());
    if (!allowed) throw new FetchRefused(`The gateway does not fetch files from ${host}; nothing was sent.`);
    // A listed name must not lead inside (DNS rebinding, a careless entry); a listed IP literal is deliberate.
    if (!isIP(host.replace(/^\[|\]$/g, ""))) {
      const addresses = await lookup(host, { all: true }).catch(() => []);
      if (addresses.length === 0) throw new FetchRefused(`The gateway could not find ${host}; nothing was sent.`);
      if (addresses.some((a) => isInternal(a.address))) throw new FetchRefused(`The gateway does not fetch files from internal addresses; nothing was sent.`);
    }
    // One time limit for the answer's head, another for the body once its memory is granted: a fetch that
    // waits for the budget (docs/design.md §Budgets) is not cut for waiting.
    const abort = new AbortController();
    let timer = setTimeout(() => abort.abort(new Error("timed out")), TIMEOUT_MS);
    let hold: Hold | null = null;
    try {
      const res = await fetch(target, { redirect: "manual", signal: abort.signal })
        .catch((err: Error) => { throw new FetchRefused(`The gateway could not fetch the file (${err.message}); nothing was sent.`); });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new FetchRefused(`The gateway could not fetch the file (HTTP ${res.status}); nothing was sent.`);
      }
      const length = res.headers.get("content-length");
      const declared = length !== null && /^\d+$/.test(length.trim()) ? Number(length) : NaN;
      if (declared > config.maxBytes) {
        await res.body?.cancel();
        throw new FetchRefused(`The file is larger than ${config.maxBytes} bytes; nothing was sent.`);
      }
      clearTimeout(timer);
      // Undeclared: counted at the most it may be, then at what it was.
      hold = reserve ? await reserve(Number.isFinite(declared) && declared >= 0 ? declared : config.maxBytes) : null;
      timer = setTimeout(() => abort.abort(new Error("timed out")), TIMEOUT_MS);
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of res.body ?? []) {
          size += (chunk as Uint8Array).length;
          if (size > config.maxBytes) throw new FetchRefused(`The file is larger than ${config.maxBytes} bytes; nothing was sent.`);
          // Past the declared length (a compressed body is declared compressed): counted as it grows.
          if (hold && size > hold.bytes) hold.resize(size);
          const bytes = chunk as Uint8Array;
          chunks.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        }
      } catch (err) {
        if (err instanceof FetchRefused) throw err;
        throw new FetchRefused(`The gateway could not fetch the file (${(err as Error).message}); nothing was sent.`);
      }
      // Buffer.concat copies: the chunks are dropped at once, so the file is held once.
      const content = Buffer.concat(chunks, size);
      chunks.length = 0;
      hold?.resize(size);
      return { ...describe(target, res), content, hold };
    } catch (err) {
      hold?.release();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  };
}

function describe(target: URL, res: Response): { filename: string; contentType: string } {
  const last = target.pathname.split("/").pop() ?? "";
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch { /* a malformed escape: keep it as it is */ }
  const type = (res.headers.get("content-type") ?? "application/octet-stream").split(";")[0]!.trim() || "application/octet-stream";
  return { filename: safeFilename(name, 0), contentType: type };
}
