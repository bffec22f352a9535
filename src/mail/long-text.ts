// A very long text part is cut before the parser decodes it: mailparser joins a text
// part whole, then makes two strings of it, so a 25 MiB text used to take well over 100 MiB in the
// parser thread, for a chat that shows at most 256 KiB of it (parse.ts keeps 1 MiB). The mail is split
// into its MIME parts (mailsplit, the splitter mailparser itself uses) and joined again unchanged except
// that each text part's body stops after `maxBytes`, at a line end (base64 and quoted-printable lines
// stay whole). Attachments pass whole: their sizes are counted by the parser.
import { Transform, type Readable, type TransformCallback, type Writable } from "node:stream";
import type { MimeNode, SplitterChunk } from "@zone-eu/mailsplit/lib/types.js";
import { createJoiner, createSplitter } from "./mailsplit.ts";

export interface TextCutter {
  /** write the mail here */
  input: Writable;
  /** read the mail (with text parts cut) from here */
  output: Readable;
  /** about how many bytes of text were left out, once decoded (decodedSize) */
  cutBytes(): number;
}

/** The parts parse.ts reads as the text: text/plain and text/html that are not attachments. */
function isText(node: MimeNode): boolean {
  const type = (node.contentType || "").toLowerCase();
  return (type === "text/plain" || type === "text/html") && node.disposition !== "attachment" && !node.filename;
}

/** `observe` sees every chunk of the split before any is cut (mime-parts.ts counts their bytes). */
export function createTextCutter(maxBytes: number, observe?: (chunk: SplitterChunk) => void): TextCutter {
  let cut = 0;
  let node: MimeNode | null = null;
  let kept = 0;
  const splitter = createSplitter();
  const cutter = new Transform({
    objectMode: true,
    transform(data: SplitterChunk, _encoding: BufferEncoding, done: TransformCallback) {
      observe?.(data);
      if (data.type === "node") {
        node = data;
        kept = 0;
      } else if (data.type === "body" && node && isText(node)) {
        const value = data.value as Buffer;
        if (kept + value.length > maxBytes) {
          const room = Math.max(0, maxBytes - kept);
          const end = room === 0 ? 0 : value.lastIndexOf(0x0a, room - 1) + 1 || room;
          cut += decodedSize(value.subarray(end), String(node.encoding).toLowerCase() === "base64");
          kept = maxBytes;
          if (end === 0) return done();
          return done(null, { ...data, value: value.subarray(0, end) });
        }
        kept += value.length;
      }
      done(null, data);
    },
  });
  const joiner = createJoiner();
  const fail = (err: Error) => joiner.destroy(err);
  splitter.on("error", fail);
  cutter.on("error", fail);
  splitter.pipe(cutter).pipe(joiner);
  return { input: splitter, output: joiner, cutBytes: () => cut };
}

/** About the size of `bytes` once decoded as a text part: line ends become one "\n" (mailparser); base64
 * gives three bytes for every four characters, its line breaks none. Quoted-printable is taken as is. */
function decodedSize(bytes: Buffer, base64: boolean): number {
  const count = (byte: number) => {
    let n = 0;
    for (let at = bytes.indexOf(byte); at !== -1; at = bytes.indexOf(byte, at + 1)) n++;
    return n;
  };
  const cr = count(0x0d);
  return base64 ? Math.floor((bytes.length - cr - count(0x0a)) * 3 / 4) : bytes.length - cr;
}
