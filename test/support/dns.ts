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

/**
 * A mail that keeps DKIM verification busy: `signatures` DKIM-Signature fields, each with its own body
 * length (l=), so the body of `bodyBytes` is canonicalised and hashed once per signature (RFC 6376 §3.7).
 */
export function slowDkimMail(from: string, to: string, signatures: number, bodyBytes: number): Buffer {
  const fields = Array.from({ length: signatures }, (_, i) =>
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=k1; l=${bodyBytes - i}; h=from; bh=AAAA; b=AAAA\r\n`);
  const line = `${"x ".repeat(38)}\r\n`;
  const body = line.repeat(Math.ceil(bodyBytes / line.length));
  return Buffer.from(`${fields.join("")}From: <${from}>\r\nTo: <${to}>\r\nSubject: many signatures\r\n\r\n${body}`);
}
