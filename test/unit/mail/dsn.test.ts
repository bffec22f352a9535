// Delivery status notifications (RFC 3464) read from real-world shapes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseStatusFields } from "../../../src/mail/dsn.ts";
import { readMail } from "../../../src/mail/parse.ts";

/** The report as intake gets it: from the one parse of the mail (mail/parse.ts readMail). */
const readDeliveryReport = async (raw: Buffer) => (await readMail(raw)).report;

const crlf = (s: string) => Buffer.from(s.replace(/\r?\n/g, "\r\n"));

const dsn = (status: string, { type = "multipart/report; report-type=delivery-status", encoding = "7bit" } = {}) => crlf(`From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: bounces+0123456789abcdef@jabber.example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: ${type}; boundary="B"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.
Action: delivered
--B
Content-Type: message/delivery-status
Content-Transfer-Encoding: ${encoding}

${status}
--B
Content-Type: text/rfc822-headers

From: toto@jabber.example.org
To: alice@example.com

--B--
`);

const POSTFIX = `Reporting-MTA: dns; mx.example.com
Arrival-Date: Wed, 25 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; alice@example.com
Original-Recipient: rfc822;alice@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 550 5.1.1 <alice@example.com>: Recipient address
    rejected: User unknown in virtual mailbox table`;

describe("the delivery report read with the mail", () => {
  it("reads a Postfix bounce: action, status, the remote words unfolded, the final and original recipients", async () => {
    assert.deepEqual(await readDeliveryReport(dsn(POSTFIX)), {
      reportingMta: "mx.example.com",
      recipients: [{
        action: "failed", status: "5.1.1", recipient: "alice@example.com", originalRecipient: "alice@example.com",
        diagnostic: "550 5.1.1 <alice@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
      }],
    });
  });

  it("reads an Original-Recipient that differs from the final one (RFC 3464 §2.3.1: the address as first given)", async () => {
    const status = "Reporting-MTA: dns; mx.example.com\n\nOriginal-Recipient: rfc822; Alice@Example.com\n"
      + "Final-Recipient: rfc822; alice.smith@mailhost.example.com\nAction: failed\nStatus: 5.2.2\n";
    const report = await readDeliveryReport(dsn(status));
    assert.deepEqual(report?.recipients, [{ action: "failed", status: "5.2.2", recipient: "alice.smith@mailhost.example.com",
      originalRecipient: "Alice@Example.com", diagnostic: null }]);
  });

  it("reads a delay warning and a base64-encoded status part", async () => {
    const status = "Reporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; bob@example.com\nAction: delayed\nStatus: 4.4.1\n";
    const report = await readDeliveryReport(dsn(Buffer.from(status).toString("base64"), { encoding: "base64" }));
    assert.deepEqual(report?.recipients, [{ action: "delayed", status: "4.4.1", recipient: "bob@example.com", diagnostic: null }]);
  });

  it("is null for mail that is not a delivery-status report (auto-replies, prose bounces, other report types)", async () => {
    assert.equal(await readDeliveryReport(crlf("From: alice@example.com\nSubject: I am on holiday\n\nBack on Monday.\n")), null);
    assert.equal(await readDeliveryReport(dsn(POSTFIX, { type: "multipart/report; report-type=disposition-notification" })), null);
    assert.equal(await readDeliveryReport(dsn(POSTFIX, { type: "multipart/mixed" })), null);
    assert.equal(await readDeliveryReport(Buffer.from("\u0000\u0001garbage")), null);
  });

  it("ignores a status part nested deeper than the report's own children", async () => {
    const nested = crlf(`Content-Type: multipart/report; report-type=delivery-status; boundary="O"

--O
Content-Type: multipart/mixed; boundary="I"

--I
Content-Type: message/delivery-status

${POSTFIX}
--I--
--O--
`);
    assert.equal(await readDeliveryReport(nested), null);
  });
});

describe("parseStatusFields", () => {
  it("skips recipient groups with an unknown action and keeps the others", () => {
    const report = parseStatusFields("Reporting-MTA: dns; a\n\nAction: exploded\nStatus: 5.0.0\n\nAction: FAILED\nStatus: 5.7.1 (spam)\n");
    assert.deepEqual(report?.recipients, [{ action: "failed", status: "5.7.1", recipient: null, diagnostic: null }]);
  });

  it("strips control characters and bounds field length", () => {
    const report = parseStatusFields(`Reporting-MTA: dns; a\n\nAction: failed\nDiagnostic-Code: smtp; 550 \u0001bad\u0007 ${"x".repeat(2000)}\n`);
    assert.ok(!/[\u0000-\u001f]/.test(report!.recipients[0]!.diagnostic!));
    assert.equal(report!.recipients[0]!.diagnostic!.length, 500);
  });

  it("is null without any recipient group", () => {
    assert.equal(parseStatusFields("Reporting-MTA: dns; a\n"), null);
    assert.equal(parseStatusFields(""), null);
  });
});
