// The default path, sender authentication on (AUTH_MODE=mark): a DNS server on loopback that answers for
// the bench's sender domain (SPF, DKIM key, DMARC), and a DKIM-signed mail for smtp-source -F.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSigner } from "../src/mail/dkim.ts";
import { startDnsServer, type DnsServer } from "../test/support/dns-server.ts";
import { generateDkimKey } from "../test/support/dns.ts";
import { MAIL_BYTES, SENDER } from "./context.ts";
import { makeMail } from "./load.ts";

export interface BenchAuth {
  dns: DnsServer;
  /** a ≈ 2 KiB mail from SENDER, DKIM-signed by its domain, LF line ends (smtp-source adds the CR) */
  signedFile(to: string): Promise<string>;
  close(): Promise<void>;
}

const SELECTOR = "bench";

export async function startBenchAuth(): Promise<BenchAuth> {
  const domain = SENDER.slice(SENDER.indexOf("@") + 1);
  const key = generateDkimKey();
  const dns = await startDnsServer({
    [domain]: ["v=spf1 ip4:127.0.0.1 -all"],
    [`${SELECTOR}._domainkey.${domain}`]: [key.txt],
    [`_dmarc.${domain}`]: ["v=DMARC1; p=reject"],
  });
  const dir = await mkdtemp(join(tmpdir(), "bench-auth-"));
  const sign = createSigner({ selector: SELECTOR, privateKey: key.privateKey });
  return {
    dns,
    async signedFile(to) {
      const signed = await sign(makeMail(SENDER, to, MAIL_BYTES, "bench signed"), domain);
      const file = join(dir, "signed.eml");
      await writeFile(file, signed.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
      return file;
    },
    async close() {
      await dns.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
