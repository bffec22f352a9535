// Attachment policy, file names, shared-file links and internal addresses.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { judgeAttachment, safeFilename } from "../../../src/core/attachments.ts";
import { sharedFileUrl } from "../../../src/core/outbound.ts";
import { isInternal } from "../../../src/queue/fetch-file.ts";

const policy = { maxBytes: 1000, types: ["image/*", "application/pdf"] };
const a = (filename: string | null, contentType: string, size = 10, related = false) => ({ filename, contentType, size, related });

describe("judgeAttachment", () => {
  it("forwards allowed types within the size", () => {
    assert.deepEqual(judgeAttachment(a("x.png", "image/png"), policy), { forward: true });
    assert.deepEqual(judgeAttachment(a("x.pdf", "Application/PDF; name=x.pdf"), policy), { forward: true });
    assert.deepEqual(judgeAttachment(a("x.bin", "application/zip"), { ...policy, types: ["*"] }), { forward: true });
  });
  it("refuses programs whatever their type, big files, other types and inline images, saying why", () => {
    assert.deepEqual(judgeAttachment(a("invoice.pdf.exe", "application/pdf"), policy), { forward: false, why: "a program: not forwarded" });
    assert.deepEqual(judgeAttachment(a("x.png", "image/png", 5000), policy), { forward: false, why: "larger than 1000 bytes" });
    assert.deepEqual(judgeAttachment(a("x.zip", "application/zip"), policy), { forward: false, why: "type application/zip is not forwarded" });
    assert.deepEqual(judgeAttachment(a("logo.png", "image/png", 10, true), policy), { forward: false, why: "inline image of the HTML mail" });
  });
});

describe("safeFilename", () => {
  it("keeps the last path segment without controls or quotes; names the nameless", () => {
    assert.equal(safeFilename("../../etc/passwd", 0), "passwd");
    assert.equal(safeFilename("C:\\Users\\a\\b \"c\".txt", 0), "b c.txt");
    assert.equal(safeFilename("a\r\nb.txt", 0), "ab.txt");
    assert.equal(safeFilename(null, 2), "attachment-3");
    assert.equal(safeFilename("   ", 0), "attachment-1");
  });
});

describe("sharedFileUrl", () => {
  it("is the XEP-0066 URL, or a body that is only a link", () => {
    assert.equal(sharedFileUrl({ body: "look", oobUrl: "https://up.example/a.jpg" }), "https://up.example/a.jpg");
    assert.equal(sharedFileUrl({ body: " https://up.example/a.jpg ", oobUrl: null }), "https://up.example/a.jpg");
    assert.equal(sharedFileUrl({ body: "aesgcm://up.example/a.jpg#key", oobUrl: null }), "aesgcm://up.example/a.jpg#key");
    assert.equal(sharedFileUrl({ body: "see https://up.example/a.jpg", oobUrl: null }), null);
    assert.equal(sharedFileUrl({ body: null, oobUrl: null }), null);
  });
});

describe("isInternal", () => {
  it("knows loopback, private, link-local (cloud metadata), CGNAT and their IPv6 forms", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
      "0.0.0.0", "::1", "::", "fd00::1", "fe80::1", "::ffff:127.0.0.1"]) assert.equal(isInternal(ip), true, ip);
    for (const ip of ["93.184.216.34", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]) assert.equal(isInternal(ip), false, ip);
  });
});
