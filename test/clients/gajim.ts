// Gajim (Debian's 1.7) on a headless desktop: a seeded profile in a private HOME, one account on the
// test server, the main window at a fixed size. Driven with the keyboard only (xdotool): Escape closes
// a dialog; closing a window through the window manager crashes Gajim 1.7.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Account, type Desktop, type Program, runAs, startAs } from "./desktop.ts";
import { waitFor } from "../support/wait.ts";

const SEED = new URL("./gajim_seed.py", import.meta.url);
const PYTHON = "/usr/bin/python3"; // Debian's, which has the gajim package (not a pyenv or venv one)

export interface GajimOptions {
  account: Account | null;
  home: string;
  desktop: Desktop;
  user: string;
  domain: string;
  port: number;
  password: string;
  width: number;
  height: number;
}

export interface Gajim {
  /** the X window id of the main window */
  window: string;
  output(): string;
  stop(): Promise<void>;
}

export async function startGajim(o: GajimOptions): Promise<Gajim> {
  const env = {
    PATH: "/usr/bin:/bin",
    HOME: o.home,
    DISPLAY: o.desktop.display,
    // English UI text for OCR; no accessibility bus (there is none on Xvfb); GTK on X11.
    LANG: "C.UTF-8",
    LANGUAGE: "en",
    NO_AT_BRIDGE: "1",
    GDK_BACKEND: "x11",
    XDG_RUNTIME_DIR: o.home,
  };
  await runAs(o.account, env, PYTHON, ["-", o.user, o.domain, String(o.port), o.password, String(o.width), String(o.height)],
    await readFile(SEED, "utf8"));
  // A session bus of its own: Gajim is a GApplication and registers its name there.
  const gajim: Program = startAs(o.account, env, "dbus-run-session", ["--", "gajim", "--verbose"]);
  const window = await waitFor("Gajim's main window", async () => {
    if (gajim.proc.exitCode !== null) throw new Error(`gajim exited:\n${gajim.output()}`);
    const ids = (await o.desktop.xdotool("search", "--onlyvisible", "--class", "gajim").catch(() => "")).split("\n").filter(Boolean);
    return ids.at(-1);
  }, 30_000, 200).catch((err: Error) => { throw new Error(`${err.message}\n${gajim.output().slice(-4000)}`); });
  return {
    window,
    output: () => gajim.output(),
    stop: () => gajim.stop(),
  };
}

/** Gajim's own message archive, where it writes what it received (Gajim 1.7: ~/.local/share/gajim/logs.db). */
export function archivePath(home: string): string {
  return join(home, ".local", "share", "gajim", "logs.db");
}
