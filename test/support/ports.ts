import { createServer } from "node:net";

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read what the kernel chose, close.
 * Another process may take it before the caller binds it; callers that can, retry on EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  if (address === null || typeof address === "string") throw new Error(`unexpected address ${String(address)}`);
  return address.port;
}

/** Distinct free ports (freePort twice can return the same one once the first is closed). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
