/**
 * The Hono adapter against the shared transport conformance suite. `start()` builds what an app
 * would on Node: a Hono app with the authority routes under the base path, the JWKS route at the
 * root and the resource routes behind `requireAuth`, served by `@hono/node-server` on an ephemeral
 * port, and a `/ws` endpoint from `@hono/node-ws` guarded by the same `requireAuth` whose sockets
 * `watchSession` closes on revocation. Only the adapter's public API is used.
 */

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { createNodeWebSocket } from '@hono/node-ws';
import { describeTransportConformance, type TransportServer, type TransportSetup } from '@sessionkit/testing';
import { Hono } from 'hono';
import { WebSocket } from 'ws';
import { jwksHandler, requireAuth, sessionAuthority, watchSession } from '../src/index.js';

async function start(setup: TransportSetup): Promise<TransportServer> {
  const { routes, revocations } = setup.resource;
  const app = new Hono();
  const { injectWebSocket, upgradeWebSocket, wss } = createNodeWebSocket({ app });
  app.route(setup.basePath, sessionAuthority({ kit: setup.kit, ...setup.authority }));
  app.get('/.well-known/jwks.json', jwksHandler(setup.kit));
  app.get('/api/me', requireAuth(routes.me), (c) => c.json({ claims: c.get('auth') }));
  app.post('/api/me', requireAuth(routes.me), (c) => c.json({ claims: c.get('auth') }));
  app.get('/api/admin', requireAuth(routes.admin), (c) => c.json({ claims: c.get('auth') }));
  app.get('/api/mfa', requireAuth(routes.mfa), (c) => c.json({ claims: c.get('auth') }));
  app.get('/api/recent', requireAuth(routes.recent), (c) => c.json({ claims: c.get('auth') }));
  app.get(
    '/ws',
    requireAuth(routes.me),
    upgradeWebSocket((c) => {
      const claims = c.get('auth');
      let stop = (): void => {};
      return {
        onOpen(_event, ws) {
          stop = watchSession({ claims, revocations, close: (code, reason) => ws.close(code, reason) });
        },
        onClose() {
          stop();
        },
      };
    }),
  );

  const { server, port } = await new Promise<{ server: Server; port: number }>((resolve) => {
    const listening = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve({ server: listening as Server, port: info.port }),
    );
  });
  injectWebSocket(server);
  // Upgraded sockets leave the server's bookkeeping (closeAllConnections misses them): track every one.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    authorityUrl: url,
    resourceUrl: url,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

describeTransportConformance({
  name: 'hono',
  start,
  WebSocket,
  factory: (options) => sessionAuthority(options),
});
