// What the user sees of a mail that could not be parsed. Apart from parse.ts so that the parse pool (in
// the gateway's main thread) does not load mailparser and html-to-text, which only its workers need.
import { sanitizeLine } from "../core/sanitize.ts";
import type { ParsedMail } from "../core/types.ts";

/**
 * Its subject as found in the first 64 KiB (raw, undecoded, one line) and `notice` as the text. The
 * sender shown is the envelope sender (fromAddress null).
 */
export function unreadMail(raw: Buffer, notice: string): ParsedMail {
  const head = raw.subarray(0, 64 * 1024).toString("latin1");
  const subject = /^subject:[ \t]*([^\r\n]{0,300})/im.exec(head)?.[1] ?? "";
  return {
    subject: sanitizeLine(subject), fromAddress: null, fromName: null, messageId: null, date: null,
    text: notice, fromHtml: false, attachments: [], automatic: false, listId: null,
  };
}
