// Gajim 1.7.3 (Debian's), a real client on a headless desktop, reads a mail through the gateway: it logs
// in to a real Prosody, a mail from "Alice Martin <alice@example.com>" comes in over SMTP, and what the
// screen shows is read back with OCR. A person must see the sender's name, never the escaped JID
// (docs/design.md §Contract, Addressing: the localpart is the address with XEP-0106 escaping).
// Run: npm run test:clients (as root it runs Gajim as a system user it creates; see desktop.ts).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { type Account, clientAccount, clientHome, type Desktop, ocr, startDesktop } from "./desktop.ts";
import { archivePath, type Gajim, startGajim } from "./gajim.ts";
import { type ClientStack, startClientStack } from "./stack.ts";
import { sendMail } from "../support/smtp.ts";
import { contactJid } from "../support/stack.ts";
import { connectClient, type ChatClient } from "../support/xmpp-client.ts";
import { waitFor } from "../support/wait.ts";

// XEP-0356 for the gateway through Prosody's mod_privilege; false runs the same test without it.
const PRIVILEGE = process.env.TEST_CLIENTS_PRIVILEGE !== "0";
// Screenshots go to $TEST_CLIENTS_SHOTS when set (e.g. docs/img), else to a new temp dir; the test prints where.
const SCREEN = { width: 1280, height: 800 };
const WINDOW = { width: 1200, height: 720 };
const USER = "toto";
const PASSWORD = "gajim-secret";
const SENDER = { name: "Alice Martin", address: "alice@example.com" };
const SUBJECT = "Lunch on Friday";

/** What Gajim has stored as received from `jid` (its archive; kind 4 is an incoming chat message). */
function received(home: string, jid: string): string[] {
  const db = new DatabaseSync(archivePath(home), { readOnly: true });
  try {
    const rows = db.prepare("SELECT logs.message AS message FROM logs JOIN jids USING (jid_id) WHERE jids.jid = ? AND logs.kind = 4")
      .all(jid) as Array<{ message: string | null }>;
    return rows.map((r) => r.message ?? "");
  } finally {
    db.close();
  }
}

describe("Gajim 1.7.3 receives a mail from Alice Martin", { timeout: 110_000 }, () => {
  let stack: ClientStack;
  let account: Account | null;
  let home: string;
  let desktop: Desktop | undefined;
  let gajim: Gajim | undefined;
  let watcher: ChatClient | undefined;
  let shots: string; // the screenshots: $TEST_CLIENTS_SHOTS, else next to the log
  let logs: string; // Gajim's log, kept after the run
  let screen = ""; // the OCR of the chat window once the mail is open

  before(async () => {
    stack = await startClientStack({ privilege: PRIVILEGE });
    const address = await stack.user(USER, PASSWORD);
    account = await clientAccount();
    home = await clientHome(account);
    logs = await mkdtemp(join(tmpdir(), "passerelle-gajim-"));
    shots = process.env.TEST_CLIENTS_SHOTS || logs;
    await mkdir(shots, { recursive: true });
    desktop = await startDesktop(account, home, SCREEN.width, SCREEN.height);
    // A second resource of the same account sees Gajim's presence once Gajim is logged in (RFC 6121 §4.2.2).
    watcher = await connectClient(stack.server.c2sPort, stack.server.domain, USER, PASSWORD, { resource: "watcher" });
    gajim = await startGajim({
      account, home, desktop, user: USER, domain: stack.server.domain, port: stack.server.c2sPort, password: PASSWORD,
      ...WINDOW,
    });
    const gajimJid = `${USER}@${stack.server.domain}/gajim`;
    await watcher.waitForPresence((p) => p.attrs.from === gajimJid && p.attrs.type === undefined, "Gajim to log in", 30_000)
      .catch((err: Error) => { throw new Error(`${err.message}\n${gajim!.output().slice(-4000)}`); });
    await sendMail(stack.gateway.smtpPort, {
      from: `${SENDER.name} <${SENDER.address}>`, to: address, subject: SUBJECT,
      text: "Shall we meet at noon, at the usual place?\n\nAlice",
    });
  });

  after(async () => {
    if (gajim) await writeFile(join(logs, "gajim.log"), gajim.output());
    await watcher?.stop();
    await gajim?.stop();
    await desktop?.stop();
    await stack?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  it("logs in, gets the mail into its archive, and shows it (OCR of the chat window)", async (t) => {
    const jid = contactJid(SENDER.address);
    const messages = await waitFor("the mail in Gajim's archive", () => received(home, jid).length > 0 && received(home, jid), 30_000, 200);
    assert.match(messages[0]!, new RegExp(SUBJECT));
    const d = desktop!;
    const g = gajim!;
    await d.screenshot(join(shots, "gajim-chat-list.png"), g.window);
    // Only the main window: a dialog (there should be none) is closed with Escape, as a person would.
    for (const id of (await d.xdotool("search", "--onlyvisible", "--class", "gajim")).split("\n").filter(Boolean)) {
      if (id !== g.window) await d.xdotool("windowactivate", "--sync", id).then(() => d.xdotool("key", "Escape"));
    }
    // Open the first chat of the list (Gajim's "switch-chat-1" shortcut) and let it render.
    await d.xdotool("windowactivate", "--sync", g.window);
    await d.xdotool("key", "alt+1");
    const shot = join(shots, "gajim-chat.png");
    screen = await waitFor("the mail on screen", async () => {
      await sleep(300);
      await d.screenshot(shot, g.window);
      const text = await ocr(shot);
      return text.includes("usual place") && text;
    }, 20_000, 200);
    t.diagnostic(`screenshots: ${shot} and ${join(shots, "gajim-chat-list.png")} (Gajim's log: ${join(logs, "gajim.log")})`);
    assert.match(screen, new RegExp(SUBJECT), screen);
  });

  it("shows the sender's name, and nowhere the escaped address", () => {
    assert.ok(screen !== "", "the first test did not get the chat on screen");
    assert.match(screen, /Alice Martin/, `the screen shows no "Alice Martin":\n${screen}`);
    // OCR reads the escaped form as "alice\40example.com", or in the bold header as "aice\soexampie.com".
    assert.doesNotMatch(screen, /40example|\\[s4][o0]exam/i, `the screen shows the escaped JID alice\\40example.com:\n${screen}`);
  });
});
