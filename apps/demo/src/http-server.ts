/**
 * Starting and stopping a Node HTTP server the same way for both services: listen on a host and
 * port (0 = any free port) and report the port actually bound; close by refusing new connections
 * and dropping idle keep-alive ones, so shutdown does not wait for a client's socket timeout.
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens and resolves with the bound port, or rejects (e.g. `EADDRINUSE`) with a message naming it.
 *
 * @example
 * ```ts
 * const port = await listen(createServer(handler), '127.0.0.1', 0);
 * ```
 */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why = error.code === 'EADDRINUSE' ? 'the port is in use' : error.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`, { cause: error }));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Stops accepting connections and resolves once the server has closed. Requests in flight finish;
 * idle keep-alive sockets are closed at once.
 *
 * @example
 * ```ts
 * await closeServer(server);
 * ```
 */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
