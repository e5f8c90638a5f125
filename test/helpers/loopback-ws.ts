// A bare `ws` server on loopback, for tests of the per-socket machinery without the app around it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/** Listens on a free port; the server and its HTTP listener are closed by the cleanups the test runs. */
export async function startLoopbackWebSocketServer(cleanups: (() => Promise<void> | void)[]) {
  const http = createServer();
  const wss = new WebSocketServer({ server: http });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () => new Promise<void>((resolve) => http.close(() => resolve())),
    () => new Promise<void>((resolve) => wss.close(() => resolve())),
  );
  return { wss, url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}` };
}
