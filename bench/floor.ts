// The floor: smtp-server alone, with a handler that only reads the data, as a child process so that
// /proc gives its CPU apart. Whatever the gateway spends per mail beyond it is the gateway's own work.
// Run directly (`node bench/floor.ts PORT`) it is that server; imported, it starts one.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/support/ports.ts";
import { waitForPort } from "./postfix.ts";

export interface Floor { port: number; pid: number; stop(): Promise<void> }

export async function startFloor(): Promise<Floor> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), String(port)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  await waitForPort(port, () => child.exitCode !== null, () => stderr);
  return {
    port, pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { SMTPServer } = await import("smtp-server");
  // The options of src/smtp/server.ts that change the work per mail: no TLS, no AUTH, SIZE hidden.
  const server = new SMTPServer({
    name: "floor.example", banner: "floor ESMTP", logger: false, disableReverseLookup: true, authOptional: true,
    disabledCommands: ["AUTH", "STARTTLS"], hideSTARTTLS: true, size: 25 * 1024 * 1024, hideSize: true, maxClients: 100_000,
    onData(stream, _session, callback) {
      stream.on("data", () => undefined);
      stream.on("end", () => callback());
    },
  });
  server.listen(Number(process.argv[2]), "127.0.0.1");
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
}
