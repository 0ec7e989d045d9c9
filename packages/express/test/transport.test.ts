/**
 * The Express adapter against the shared transport conformance suite. `start()` builds what an app
 * would: an Express 5 app with the authority router under the base path, the JWKS route at the root
 * and the resource routes behind `requireAuth`, served by `node:http` on an ephemeral port, plus a
 * `ws` server in `noServer` mode whose upgrades `authenticateUpgrade` admits (`rejectUpgrade` answers
 * the refused ones) and `watchSession` closes on revocation. Only the adapter's public API is used.
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describeTransportConformance, type TransportServer, type TransportSetup } from '@sessionkit/testing';
import express from 'express';
import { WebSocket, WebSocketServer } from 'ws';
import {
  authenticateUpgrade,
  jwksHandler,
  rejectUpgrade,
  requireAuth,
  sessionAuthority,
  watchSession,
} from '../src/index.js';

async function start(setup: TransportSetup): Promise<TransportServer> {
  const { routes, revocations } = setup.resource;
  const app = express();
  app.use(setup.basePath, sessionAuthority({ kit: setup.kit, ...setup.authority }));
  app.get('/.well-known/jwks.json', jwksHandler(setup.kit));
  app.get('/api/me', requireAuth(routes.me), (req, res) => {
    res.json({ claims: req.auth });
  });
  app.post('/api/me', express.urlencoded({ extended: false }), requireAuth(routes.me), (req, res) => {
    res.json({ claims: req.auth });
  });
  app.get('/api/admin', requireAuth(routes.admin), (req, res) => {
    res.json({ claims: req.auth });
  });
  app.get('/api/mfa', requireAuth(routes.mfa), (req, res) => {
    res.json({ claims: req.auth });
  });
  app.get('/api/recent', requireAuth(routes.recent), (req, res) => {
    res.json({ claims: req.auth });
  });

  const server = createServer(app);
  const wss = new WebSocketServer({ noServer: true });
  const admit = authenticateUpgrade(routes.me);
  // Upgraded sockets leave the server's bookkeeping (closeAllConnections misses them): track every one.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrade(req, socket, head).catch(() => socket.destroy());
  });
  async function upgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/ws') {
      socket.destroy();
      return;
    }
    const admitted = await admit(req);
    if (!admitted.ok) {
      rejectUpgrade(socket, admitted);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stop = watchSession({
        claims: admitted.claims,
        revocations,
        close: (code, reason) => ws.close(code, reason),
      });
      ws.on('close', stop);
    });
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
  name: 'express',
  start,
  WebSocket,
  factory: (options) => sessionAuthority(options),
});
