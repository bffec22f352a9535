// Is a relay failure worth retrying? RFC 5321 §4.2.1: 4yz is transient, 5yz permanent; no reply at all
// (connection refused, timeout, TLS trouble) is transient too.

export interface RelayFailure { permanent: boolean; text: string }

export function classifyRelayError(err: { responseCode?: number; response?: string; code?: string; message: string }): RelayFailure {
  const code = err.responseCode;
  const text = (err.response ?? err.message).replace(/\s+/g, " ").trim();
  if (typeof code === "number" && code >= 500 && code < 600) return { permanent: true, text };
  // nodemailer's EENVELOPE without a reply code: our envelope was refused before any recipient was sent.
  if (err.code === "EENVELOPE" && code === undefined) return { permanent: true, text };
  return { permanent: false, text };
}
