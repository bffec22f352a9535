// Fault injection for the crash tests: PASSERELLE_CRASH_AT=<point> makes the process SIGKILL
// itself when it reaches that point, as a power cut would. Never set in production; read once at start.
export type CrashPoint =
  | "after-commit" // the mail and its deliveries are committed; the 250 is not written yet
  | "inside-batch" // the first stanza of a batch is on the wire, the others are not
  | "after-xmpp-send" // a batch of stanzas is on the wire; the rows are not marked delivered yet
  | "after-renewal" // a lease was renewed while its batch runs; its rows are not marked yet
  | "after-relay-send"; // the relay accepted a mail; its row is not marked delivered yet

const armed = process.env.PASSERELLE_CRASH_AT;

export function crashPoint(point: CrashPoint): void {
  if (armed === point) process.kill(process.pid, "SIGKILL");
}
