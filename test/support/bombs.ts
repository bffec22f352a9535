// Hostile mails: parse bombs, for the parse pool and the SMTP tests.

export const bombs = {
  /** 100k header lines */
  headers: () => Buffer.from(`Subject: header bomb\r\n${"X-Filler: y\r\n".repeat(100_000)}\r\nbody\r\n`),
  /** 10,000 nested multiparts */
  nested: () => {
    let s = 'Subject: nest bomb\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n';
    for (let i = 1; i < 10_000; i++) s += `--b${i - 1}\r\nContent-Type: multipart/mixed; boundary="b${i}"\r\n\r\n`;
    s += "--b9999\r\nContent-Type: text/plain\r\n\r\ndeep\r\n";
    for (let i = 9_999; i >= 0; i--) s += `--b${i}--\r\n`;
    return Buffer.from(s);
  },
  /** a 10 MB line with no newline */
  longLine: () => Buffer.from(`Subject: long line\r\n\r\n${"x".repeat(10_000_000)}`),
  /** HTML-only, 200,000 nested elements: seconds of html-to-text on the main thread */
  html: () => Buffer.from(`Subject: html bomb\r\nContent-Type: text/html\r\n\r\n${"<div>".repeat(200_000)}x`),
};
