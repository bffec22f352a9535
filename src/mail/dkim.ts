// DKIM signing of outgoing mail (RFC 6376) with nodemailer's signer, once, at queue time: every retry
// sends the same signed bytes.
import { createPublicKey } from "node:crypto";
import DKIM from "nodemailer/lib/dkim";

export interface DkimConfig { selector: string; privateKey: string }

export type Signer = (raw: Buffer, domain: string) => Promise<Buffer>;

/** Sign as `d=<domain of the sending mailbox>`, `s=<selector>`: each mail domain publishes the same key
 * at `<selector>._domainkey.<domain>`. Without a configuration, the bytes pass unchanged. */
export function createSigner(config: DkimConfig | null): Signer {
  if (!config) return async (raw) => raw;
  return (raw, domain) => new Promise((resolve, reject) => {
    const signer = new DKIM({ domainName: domain, keySelector: config.selector, privateKey: config.privateKey });
    const out: Buffer[] = [];
    const stream = signer.sign(raw);
    stream.on("data", (chunk: Buffer) => out.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(out)));
    stream.on("error", reject);
  });
}

/** The TXT record to publish at `<selector>._domainkey.<domain>` (RFC 6376 §3.6.1) for this key. */
export function dkimRecord(privateKey: string): string {
  const p = createPublicKey(privateKey).export({ type: "spki", format: "der" }).toString("base64");
  return `v=DKIM1; k=rsa; p=${p}`;
}
