// A static DNS zone for mailauth (no network in tests) and DKIM keys made on the spot.
import { generateKeyPairSync } from "node:crypto";

export interface DkimKey { privateKey: string; txt: string }

/** An RSA-2048 key and its RFC 6376 §3.6.1 TXT record. */
export function generateDkimKey(): DkimKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const p = publicKey.export({ type: "spki", format: "der" }).toString("base64");
  return { privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), txt: `v=DKIM1; k=rsa; p=${p}` };
}

/** A resolver answering TXT from `zone` (name → records) and NXDOMAIN for everything else. */
export function staticResolver(zone: Record<string, string[]>) {
  return async (name: string, rrtype: string): Promise<string[][]> => {
    const records = rrtype === "TXT" ? zone[name.toLowerCase().replace(/\.$/, "")] : undefined;
    if (!records) throw Object.assign(new Error(`${name} ${rrtype}: not found`), { code: "ENOTFOUND" });
    // TXT records come as chunks of at most 255 characters (RFC 1035 §3.3.14).
    return records.map((r) => r.match(/.{1,255}/g) ?? [""]);
  };
}
