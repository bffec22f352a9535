// Entry point: `bin/passerelle <command>`.
import { runCli } from "./cli.ts";

const code = await runCli(process.argv.slice(2));
// Everything that matters is closed by now; libraries' stray timers (xmpp.js waits 30 s for a
// </stream> that a dead socket never sends) must not keep the process alive.
process.exit(code);
