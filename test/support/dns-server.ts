// A real DNS server on loopback (UDP) answering from a static zone, so the gateway's own resolver
// (DNS_SERVERS) can be pointed at it: SPF, DKIM and DMARC without the network.
import { createSocket } from "node:dgram";
import * as packet from "dns-packet";

export interface DnsServer {
  /** `127.0.0.1:<port>`, for DNS_SERVERS */
  address: string;
  /** TXT records by name; edit freely while the server runs */
  txt: Record<string, string[]>;
  /** names answered SERVFAIL (a temporary failure) */
  failing: Set<string>;
  /** names never answered (a server that has gone quiet) */
  silent: Set<string>;
  /** questions received so far */
  queries: number;
  close(): Promise<void>;
}

export async function startDnsServer(txt: Record<string, string[]> = {}): Promise<DnsServer> {
  const socket = createSocket("udp4");
  const server: DnsServer = { address: "", txt, failing: new Set(), silent: new Set(), queries: 0, close: () => new Promise((r) => socket.close(() => r())) };
  socket.on("message", (message, peer) => {
    let query: packet.Packet;
    try {
      query = packet.decode(message);
    } catch {
      return;
    }
    server.queries++;
    const question = query.questions?.[0];
    const name = (question?.name ?? "").toLowerCase().replace(/\.$/, "");
    if (server.silent.has(name)) return;
    const records = question?.type === "TXT" ? server.txt[name] : undefined;
    const rcode = server.failing.has(name) ? "SERVFAIL" : records || Object.hasOwn(server.txt, name) ? "NOERROR" : "NXDOMAIN";
    const answers: packet.Answer[] = (rcode === "NOERROR" ? records ?? [] : []).map((r) => ({
      type: "TXT", name: question!.name, ttl: 60, class: "IN",
      // RFC 1035 §3.3.14: character-strings of at most 255 octets.
      data: (r.match(/.{1,255}/g) ?? [""]).map((chunk) => Buffer.from(chunk)),
    }));
    const reply = packet.encode({ id: query.id, type: "response", flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE
      | (rcode === "SERVFAIL" ? 2 : rcode === "NXDOMAIN" ? 3 : 0), questions: query.questions, answers });
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  server.address = `127.0.0.1:${socket.address().port}`;
  return server;
}
