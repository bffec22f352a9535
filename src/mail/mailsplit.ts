// mailsplit's splitter and joiner, typed as the Transform streams they are: its typings list only their
// 'data' event, which hides the stream events ('end', 'error', …) every Transform emits.
import { Transform } from "node:stream";
import Joiner from "@zone-eu/mailsplit/lib/message-joiner.js";
import Splitter from "@zone-eu/mailsplit/lib/message-splitter.js";
import type { SplitterOptions } from "@zone-eu/mailsplit/lib/types.js";

function transform(stream: object): Transform {
  if (stream instanceof Transform) return stream;
  throw new TypeError("mailsplit no longer makes Transform streams");
}

/** Raw mail in, one object a MIME node, header block or body chunk out (`SplitterChunk`). */
export function createSplitter(options?: SplitterOptions): Transform {
  return transform(new Splitter(options));
}

/** The splitter's objects in, the raw mail out. */
export function createJoiner(): Transform {
  return transform(new Joiner());
}
