// A mail's bytes held once: joined as before when small, in shared memory with room for our header
// fields when large, and never changed under a reader by a second prepend.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRawCollector, HEADROOM_BYTES, prependHeader, SHARED_FROM_BYTES } from "../../../src/mail/raw-buffer.ts";

/** `size` bytes of a repeating pattern, pushed in pieces of `piece` bytes. */
function collect(size: number, piece = 65_536, maxSize = 32 * 1024 * 1024) {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  const collector = createRawCollector(maxSize);
  for (let at = 0; at < size; at += piece) collector.push(bytes.subarray(at, at + piece));
  return { bytes, collector };
}

describe("raw buffer", () => {
  it("joins a small mail into an ordinary buffer, and puts the header in front by copying", () => {
    const { bytes, collector } = collect(10_000, 1000);
    const raw = collector.finish();
    assert.ok(!(raw.buffer instanceof SharedArrayBuffer));
    assert.deepEqual(raw, bytes);
    const full = prependHeader(Buffer.from("Received: x\r\n"), raw);
    assert.equal(full.toString("latin1", 0, 13), "Received: x\r\n");
    assert.deepEqual(full.subarray(13), bytes);
  });

  it("keeps a large mail in shared memory and writes the header into the room in front, without a copy", () => {
    const { bytes, collector } = collect(SHARED_FROM_BYTES * 3 + 12_345);
    assert.equal(collector.size, bytes.length);
    const raw = collector.finish();
    assert.ok(raw.buffer instanceof SharedArrayBuffer);
    assert.ok(raw.equals(bytes));
    const header = Buffer.from("Received: from a by b; Tue, 1 Jul 2025 10:00:00 +0000\r\n");
    const full = prependHeader(header, raw);
    assert.equal(full.buffer, raw.buffer, "the same memory");
    assert.equal(full.byteOffset + header.length, raw.byteOffset);
    assert.ok(full.subarray(0, header.length).equals(header));
    assert.ok(full.subarray(header.length).equals(bytes));
  });

  it("uses the room only once: a second header is joined in a copy and the first result stays as it was", () => {
    const { bytes, collector } = collect(SHARED_FROM_BYTES + 1);
    const raw = collector.finish();
    const first = prependHeader(Buffer.from("A: 1\r\n"), raw);
    const second = prependHeader(Buffer.from("B: 22\r\n"), raw);
    assert.notEqual(second.buffer, raw.buffer);
    assert.equal(first.toString("latin1", 0, 6), "A: 1\r\n");
    assert.equal(second.toString("latin1", 0, 7), "B: 22\r\n");
    assert.ok(second.subarray(7).equals(bytes));
  });

  it("copies when our header fields are longer than the room kept for them", () => {
    const { bytes, collector } = collect(SHARED_FROM_BYTES + 100);
    const raw = collector.finish();
    const header = Buffer.alloc(HEADROOM_BYTES + 1, "h");
    const full = prependHeader(header, raw);
    assert.notEqual(full.buffer, raw.buffer);
    assert.ok(full.subarray(0, header.length).equals(header));
    assert.ok(full.subarray(header.length).equals(bytes));
  });

  it("counts the bytes of a mail over the limit but keeps none of them", () => {
    const { collector } = collect(3 * SHARED_FROM_BYTES, 65_536, 2 * SHARED_FROM_BYTES);
    assert.equal(collector.size, 3 * SHARED_FROM_BYTES);
    assert.throws(() => collector.finish(), /over its size limit/);
  });
});
