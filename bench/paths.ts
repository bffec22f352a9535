// Micro-benchmarks of single code paths, for A/B pairs of two versions of the code: the same script runs
// against the `src/` of each (a checkout of the other commit), in this process alone, CPU from
// process.cpuUsage (user + system) per mail.
//   node bench/paths.ts relay [src dir] [--mails 5000]   createRelay(…).send into Postfix's smtp-sink
//   node bench/paths.ts relay-public [src dir]   the same bytes by nodemailer's sendMail({ envelope, raw }), same pool
//   node bench/paths.ts compose [src dir] [--mails 20000]   composeMail of a typical chat reply
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startSmtpSink } from "./postfix.ts";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { mails: { type: "string" }, rounds: { type: "string", default: "5" } } });
const [what, srcArg] = positionals;
const src = pathToFileURL(`${resolve(srcArg ?? "src")}/`);
const rounds = Number(values.rounds);

const TEXT = "Bonjour Alice, je serai là à 15 h — on se retrouve devant la gare ? À tout à l'heure 😀\n".repeat(3);

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Send = (envelope: { from: string; to: string }, raw: Buffer) => Promise<unknown>;

async function publicRelay(url: string): Promise<{ send: Send; close(): void }> {
  const { createTransport } = await import("nodemailer");
  // createRelay's options.
  const transport = createTransport({ url, pool: true, maxConnections: 4, maxMessages: 10_000, connectionTimeout: 15_000,
    greetingTimeout: 15_000, socketTimeout: 60_000 } as object);
  return { send: (envelope, raw) => transport.sendMail({ envelope: { from: envelope.from, to: [envelope.to] }, raw }),
    close: () => transport.close() };
}

async function relay(mails: number, viaSendMail: boolean): Promise<number[]> {
  const { createRelay } = await import(new URL("smtp/sender.ts", src).href) as typeof import("../src/smtp/sender.ts");
  const { composeMail } = await import(new URL("mail/compose.ts", src).href) as typeof import("../src/mail/compose.ts");
  const raw = await composeMail({ from: { address: "toto@jabber.example.org", name: "Toto" }, to: "alice@example.com",
    subject: "Re: Hello", text: TEXT, messageId: "tok@jabber.example.org", inReplyTo: null, references: [],
    jabberId: "toto@jabber.example.org", date: new Date(0) });
  const sink = await startSmtpSink();
  const url = `smtp://127.0.0.1:${sink.port}`;
  const r = viaSendMail ? await publicRelay(url) : createRelay(url);
  const perMail: number[] = [];
  try {
    // Warm-up (JIT, the pool's four connections), then rounds; 20 in flight as the relay loop keeps them.
    const send = async (n: number) => {
      let next = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (next++ < n) await r.send({ from: "bounce+x@jabber.example.org", to: "alice@example.com" }, raw);
      }));
    };
    await send(1000);
    for (let i = 0; i < rounds; i++) {
      const start = cpuMs();
      await send(mails);
      perMail.push((cpuMs() - start) / mails);
    }
  } finally {
    r.close();
    await sink.stop();
  }
  return perMail;
}

async function compose(mails: number): Promise<number[]> {
  const { composeMail } = await import(new URL("mail/compose.ts", src).href) as typeof import("../src/mail/compose.ts");
  const mail = (i: number) => ({ from: { address: "toto@jabber.example.org", name: "Toto" }, to: "alice@example.com",
    subject: "Re: Hello", text: `${TEXT}${i}  `, messageId: `tok${i}@jabber.example.org`, inReplyTo: "p@example.com",
    references: ["p@example.com"], jabberId: "toto@jabber.example.org", date: new Date(0) });
  for (let i = 0; i < 2000; i++) await composeMail(mail(i));
  const perMail: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = cpuMs();
    for (let i = 0; i < mails; i++) await composeMail(mail(i));
    perMail.push((cpuMs() - start) / mails);
  }
  return perMail;
}

const runs = what === "relay" || what === "relay-public" ? await relay(Number(values.mails ?? 5000), what === "relay-public")
  : what === "compose" ? await compose(Number(values.mails ?? 20000))
  : (() => { throw new Error("usage: node bench/paths.ts relay|relay-public|compose [src dir] [--mails N] [--rounds 5]"); })();
console.log(JSON.stringify({ what, src: src.pathname, rounds: runs.map((x) => Number(x.toFixed(4))), medianMsPerMail: Number(median(runs).toFixed(4)) }));
