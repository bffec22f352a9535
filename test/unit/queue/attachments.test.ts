// Inbound attachments: uploaded once and reused, linked on the web page without an upload service or
// when the upload fails, listed with a reason otherwise.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createAttachmentForwarder, type AttachmentDeps } from "../../../src/queue/attachments.ts";
import { createLogger } from "../../../src/log.ts";
import type { ParsedMail } from "../../../src/core/types.ts";
import type { MailStructure, MimePart } from "../../../src/mail/mime-parts.ts";

const TOKEN = "A".repeat(43);
const mail = { subject: "s", fromAddress: null, fromName: null, messageId: null, date: null, text: "", fromHtml: false,
  attachments: [{ filename: "a.png", contentType: "image/png", size: 3 }, { filename: "b.exe", contentType: "application/x-msdownload", size: 3 }] } as ParsedMail;
/** The stored mail: a PNG in base64 and a program, each part with its index and the verdict intake gave it. */
const RAW = Buffer.from(`xx${Buffer.from("png").toString("base64")}\r\nMZ`);
const part = (attachment: number, start: number, end: number, encoding: string, verdict: MimePart["verdict"]): MimePart => ({
  path: String(attachment + 1), start, end, contentType: mail.attachments[attachment]!.contentType, charset: null, encoding,
  filename: mail.attachments[attachment]!.filename, disposition: "attachment", cid: null, size: 3, attachment, verdict });
const STRUCTURE: MailStructure = { type: "multipart/mixed", reportType: null, omitted: 0, from: "", to: "", cc: "", date: "",
  parts: [part(0, 2, 8, "base64", { forward: true }), part(1, 10, 12, "7bit", { forward: false, why: "a program: not forwarded" })] };

function deps(upload?: AttachmentDeps["upload"]) {
  const saved: Record<string, string>[] = [];
  let stored: Record<string, string> = {};
  const d: AttachmentDeps = {
    log: createLogger("silent"),
    partsOf: async () => STRUCTURE,
    partBytes: async (_id, p) => RAW.subarray(p.start, p.end),
    uploads: async () => ({ ...stored }),
    saveUploads: async (_id, urls) => { saved.push(urls); stored = { ...stored, ...urls }; },
    ...(upload ? { upload } : {}),
  };
  return { d, saved };
}
const delivery = { messageId: 7, stanzaId: "tok.0" };

describe("createAttachmentForwarder", () => {
  it("uploads once, then reuses the stored URL for a retry or another recipient", async () => {
    let uploads = 0;
    const { d, saved } = deps(async () => `https://up.example/${++uploads}/a.png`);
    const forward = createAttachmentForwarder({ publicUrl: null }, d);
    const first = await forward(delivery, mail, TOKEN);
    assert.deepEqual(first.files, [{ id: "tok.0.f0", url: "https://up.example/1/a.png", name: "a.png" }]);
    assert.deepEqual([...first.fates], [[1, "a program: not forwarded"], [0, "sent"]]);
    const again = await forward({ messageId: 7, stanzaId: "tok.1" }, mail, TOKEN);
    assert.equal(again.files[0]!.url, "https://up.example/1/a.png");
    assert.equal(uploads, 1);
    assert.deepEqual(saved, [{ 0: "https://up.example/1/a.png" }]);
  });

  it("links the web page when there is no upload service, or when the upload fails", async () => {
    const link = `https://mail.example.org/m/${TOKEN}/a/0/a.png`;
    const { d } = deps();
    assert.equal((await createAttachmentForwarder({ publicUrl: "https://mail.example.org" }, d)(delivery, mail, TOKEN)).files[0]!.url, link);
    const failing = deps(async () => { throw new Error("503"); });
    const fallback = await createAttachmentForwarder({ publicUrl: "https://mail.example.org" }, failing.d)(delivery, mail, TOKEN);
    assert.equal(fallback.files[0]!.url, link);
    assert.deepEqual(failing.saved, [], "a web link is not an upload to remember");
  });

  it("says why when neither works", async () => {
    const failing = deps(async () => { throw new Error("503"); });
    const out = await createAttachmentForwarder({ publicUrl: null }, failing.d)(delivery, mail, null);
    assert.deepEqual(out.files, []);
    assert.equal(out.fates.get(0), "the upload failed");
    const none = await createAttachmentForwarder({ publicUrl: null }, deps().d)(delivery, mail, null);
    assert.equal(none.fates.get(0), "no upload service or web link configured");
  });

  it("uploads the part's own byte range, decoded, with the type and name intake found", async () => {
    const sent: { filename: string; contentType: string; content: Buffer }[] = [];
    const { d } = deps(async (file) => { sent.push(file); return "https://up.example/x"; });
    await createAttachmentForwarder({ publicUrl: null }, d)(delivery, mail, null);
    assert.deepEqual(sent, [{ filename: "a.png", contentType: "image/png", content: Buffer.from("png") }]);
  });

  it("says an attachment could not be read when the mail has no stored structure (the parser gave up)", async () => {
    const { d } = deps(async () => "https://up.example/x");
    const out = await createAttachmentForwarder({ publicUrl: null }, { ...d, partsOf: async () => null })(delivery, mail, null);
    assert.deepEqual(out.files, []);
    assert.deepEqual([...out.fates], [[0, "could not be read from the stored mail"], [1, "could not be read from the stored mail"]]);
  });
});
