// A raw SMTP client for exact reply codes (RFC 5321 §4.2), and nodemailer for ordinary sending.
import { connect, type Socket } from "node:net";
import { createTransport } from "nodemailer";

export interface Reply { code: number; text: string }

/** A line-oriented SMTP session: `command()` writes a line and resolves with the next full reply. */
export class SmtpSession {
  private buffer = "";
  private waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  private replies: Reply[] = [];
  closed = false;
  private readonly socket: Socket;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => this.onData(chunk));
    // A dropped connection fails every pending read at once (a crashed server sends nothing more).
    const drop = () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(new Error("connection closed without a reply"));
    };
    socket.on("close", drop);
    socket.on("error", drop);
  }

  /** `localAddress` picks the client's own address, e.g. 127.0.0.2, to be another peer on loopback. */
  static async open(port: number, host = "127.0.0.1", localAddress?: string): Promise<{ session: SmtpSession; greeting: Reply }> {
    const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const session = new SmtpSession(socket);
    return { session, greeting: await session.read() };
  }

  private onData(chunk: string) {
    this.buffer += chunk;
    for (;;) {
      const m = /^(\d{3})(?:-.*\r\n(?:\1-.*\r\n)*\1[ ].*|[ ].*|)\r\n/.exec(this.buffer);
      if (!m) break;
      const raw = m[0];
      this.buffer = this.buffer.slice(raw.length);
      const lines = raw.trimEnd().split("\r\n");
      const reply = { code: Number(m[1]), text: lines.map((l) => l.slice(4)).join("\n") };
      const waiter = this.waiting.shift();
      if (waiter) waiter.resolve(reply);
      else this.replies.push(reply);
    }
  }

  read(timeoutMs = 15_000): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closed) return Promise.reject(new Error("connection closed without a reply"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no SMTP reply in time")), timeoutMs);
      this.waiting.push({
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** DATA, then the message (dot-stuffed here), then the final dot; resolves with the reply after the dot. */
  async data(message: string | Buffer): Promise<Reply> {
    const go = await this.command("DATA");
    if (go.code !== 354) return go;
    const text = Buffer.isBuffer(message) ? message.toString("latin1") : message;
    const stuffed = text.replace(/\r?\n/g, "\r\n").replace(/^\./gm, "..");
    this.write(Buffer.from(`${stuffed}${stuffed.endsWith("\r\n") ? "" : "\r\n"}.\r\n`, "latin1"));
    return this.read(60_000);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One whole transaction; returns every reply so tests can assert on each step. */
export async function sendRaw(port: number, from: string, to: string[], message: string | Buffer) {
  const { session } = await SmtpSession.open(port);
  try {
    const ehlo = await session.command("EHLO client.example");
    const mail = await session.command(`MAIL FROM:<${from}>`);
    const rcpt: Reply[] = [];
    for (const r of to) rcpt.push(await session.command(`RCPT TO:<${r}>`));
    const data = rcpt.some((r) => r.code === 250) ? await session.data(message) : null;
    await session.command("QUIT").catch(() => undefined);
    return { ehlo, mail, rcpt, data };
  } finally {
    session.close();
  }
}

/** A standard SMTP client (nodemailer), as a mail server or a user's mail program would send. */
export async function sendMail(port: number, mail: { from: string; to: string | string[]; subject?: string; text?: string; html?: string;
  headers?: Record<string, string>; attachments?: { filename: string; content: Buffer; contentType: string }[] }) {
  const transport = createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true, tls: { rejectUnauthorized: false } });
  try {
    return await transport.sendMail(mail);
  } finally {
    transport.close();
  }
}

export function buildMail(headers: Record<string, string>, body: string): string {
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join("\r\n");
  return `${head}\r\n\r\n${body}`;
}
