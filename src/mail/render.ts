// Writing mail headers: the only place that does (design: rooms). Values come from our own data.

/** RFC 5321 §4.4 trace field prepended to every accepted mail (and counted for loop detection). */
export function receivedHeader(input: { helo: string | null; remoteAddress: string | null; by: string;
  id: string; recipient: string | null; date: Date }): string {
  // No whitespace or controls (they could end the header); UTF-8 stays, RFC 6532 allows it in trace fields.
  const clean = (v: string) => v.replace(/[\s\u0000-\u001F\u007F]/gu, "").slice(0, 255);
  const from = `${clean(input.helo ?? "unknown")} ([${clean(input.remoteAddress ?? "unknown")}])`;
  const rcpt = input.recipient ? `\r\n\tfor <${clean(input.recipient)}>` : "";
  return `Received: from ${from}\r\n\tby ${clean(input.by)} (Passerelle) with ESMTP id ${clean(input.id)}${rcpt};\r\n\t${rfc5322Date(input.date)}\r\n`;
}

/** RFC 5322 §3.3 date-time in UTC. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace("GMT", "+0000");
}
