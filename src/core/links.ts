// Links to the full mail on the web. Pure: the one place that spells
// the URL scheme, so chat messages (truncation notice, inbound attachments) and the HTTP routes agree.
//   ${PUBLIC_URL}/m/<token>                         the mail as one HTML page
//   ${PUBLIC_URL}/m/<token>/a/<index>/<filename>    its attachment number <index> (0-based, mailparser order)

/** A web token: 32 random bytes in base64url without padding (RFC 4648 §5), always 43 characters. */
export const WEB_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** PUBLIC_URL without its trailing slashes: `https://mail.example.org/` and `…org` give the same links. */
function base(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, "");
}

export function mailUrl(publicUrl: string, token: string): string {
  return `${base(publicUrl)}/m/${token}`;
}

/**
 * The `index`-th attachment of a mail, in the order mailparser lists `attachments` (the same order as
 * `messages.attachments`). The file name is only for the person and the client that saves the file; the
 * server finds the attachment by index and ignores it. A nameless attachment is called `attachment`.
 */
export function attachmentUrl(publicUrl: string, token: string, index: number, filename: string | null): string {
  return `${mailUrl(publicUrl, token)}/${attachmentPath(index, filename)}`;
}

/** The part of an attachment's URL after `/m/<token>/`: relative links in the page use it. */
export function attachmentPath(index: number, filename: string | null): string {
  return `a/${index}/${encodeURIComponent(filename || "attachment")}`;
}
