// A mail's bytes held once: a large mail is copied as it arrives into one
// SharedArrayBuffer, with room in front for the header fields we add, so that neither joining the SMTP
// chunks, nor putting our fields on top, nor handing the mail to a parser thread makes another full copy
// (a 25 MiB mail used to be held four times over). Small mails stay ordinary Buffers: copying them is
// cheaper than sharing memory.

/** Below this a mail is joined as before; at this size it moves into shared memory. */
export const SHARED_FROM_BYTES = 1024 * 1024;
/** Room for the fields we put on top (Received:, Authentication-Results:…); more falls back to a copy. */
export const HEADROOM_BYTES = 16 * 1024;
/** Grow the shared buffer by at least this much (fewer page-permission calls). */
const GROW_BYTES = 1024 * 1024;

/** Shared buffers whose headroom is still unwritten: prependHeader may use it, once. */
const headroomFree = new WeakSet<SharedArrayBuffer>();

export interface RawCollector {
  /** bytes pushed so far, including any beyond `maxSize` (which are not kept) */
  readonly size: number;
  push(chunk: Buffer): void;
  /** The whole mail; only when `size <= maxSize`. Nothing writes to its bytes afterwards. */
  finish(): Buffer;
}

export function createRawCollector(maxSize: number): RawCollector {
  let chunks: Buffer[] = [];
  let shared: SharedArrayBuffer | null = null;
  let size = 0;
  return {
    get size() { return size; },
    push(chunk) {
      size += chunk.length;
      if (size > maxSize) { // refused at the end of DATA: keep nothing more
        chunks = [];
        shared = null;
        return;
      }
      if (!shared) {
        chunks.push(chunk);
        if (size < SHARED_FROM_BYTES) return;
        // Reserved up to the limit (address space only: pages count once written).
        const most = HEADROOM_BYTES + maxSize;
        shared = new SharedArrayBuffer(Math.min(most, HEADROOM_BYTES + size + GROW_BYTES), { maxByteLength: most });
        const into = Buffer.from(shared);
        let at = HEADROOM_BYTES;
        for (const c of chunks) at += c.copy(into, at);
        chunks = [];
        return;
      }
      const end = HEADROOM_BYTES + size;
      if (end > shared.byteLength) shared.grow(Math.min(shared.maxByteLength, Math.max(end, shared.byteLength + GROW_BYTES)));
      chunk.copy(Buffer.from(shared, end - chunk.length, chunk.length));
    },
    finish() {
      if (size > maxSize) throw new Error("the mail is over its size limit; nothing was kept");
      if (!shared) return Buffer.concat(chunks, size);
      headroomFree.add(shared);
      return Buffer.from(shared, HEADROOM_BYTES, size);
    },
  };
}

/** `header` followed by `raw`: written into the headroom in front of a collected mail when it fits (no
 * copy of the mail), else joined into a new buffer. */
export function prependHeader(header: Buffer, raw: Buffer): Buffer {
  const memory = raw.buffer;
  if (memory instanceof SharedArrayBuffer && headroomFree.has(memory) && raw.byteOffset >= header.length) {
    headroomFree.delete(memory); // a second prepend must not overwrite the first
    const full = Buffer.from(memory, raw.byteOffset - header.length, header.length + raw.length);
    header.copy(full, 0);
    return full;
  }
  return Buffer.concat([header, raw]);
}

/**
 * A mail's bytes as a worker thread gets them. A large mail is in shared memory that nobody writes any
 * more (createRawCollector): the thread reads the same bytes, nothing to transfer. Otherwise a copy the
 * thread owns, transferred rather than cloned again: the caller keeps its buffer to store.
 */
export function bytesForThread(raw: Buffer): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  if (raw.buffer instanceof SharedArrayBuffer) return { bytes: raw, transfer: [] };
  const bytes = new Uint8Array(raw);
  return { bytes, transfer: [bytes.buffer as ArrayBuffer] };
}
