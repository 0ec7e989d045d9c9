/**
 * `describeTransportConformance`: the executable form of the HTTP transport contract (DESIGN §6).
 * An adapter — ours for Express and Hono, or a user's for another framework — registers this vitest
 * suite with a `start()` that serves the authority and a resource service from a setup the suite
 * builds. Every test then talks to those servers over real HTTP (global `fetch`, ephemeral ports)
 * and WebSockets, so what is checked is exactly what a client sees.
 */

import type { AuthorityOptions } from '@sessionkit/sessions-core/http';
import { afterEach, describe } from 'vitest';
import { describeAuthorityContract } from './internal/transport-authority.js';
import { describeCookieContract } from './internal/transport-cookie.js';
import {
  createLauncher,
  type StartTransport,
  type TransportWebSocketClass,
} from './internal/transport-harness.js';
import { describeResourceContract } from './internal/transport-resource.js';

export type {
  StartTransport,
  TransportServer,
  TransportSetup,
  TransportWebSocket,
  TransportWebSocketClass,
} from './internal/transport-harness.js';

/** How the transport suite reaches the adapter under test. */
export interface TransportConformanceOptions {
  /** Shown in the suite title, e.g. `'express'`. */
  name: string;
  /**
   * Serves `setup` on ephemeral ports (called once or more per test, each with a fresh kit):
   * - the authority from `{ kit: setup.kit, ...setup.authority }` mounted at `setup.basePath`, and
   *   `GET /.well-known/jwks.json` at the root;
   * - a resource service with `GET /api/me` and `POST /api/me` (`requireAuth(routes.me)`, a form body
   *   parsed before it where the framework needs that; answer `{ claims }`), `GET /api/admin`
   *   (`routes.admin`), `GET /api/mfa` (`routes.mfa`), `GET /api/recent` (`routes.recent`), and a
   *   WebSocket endpoint `/ws` whose upgrade is authenticated with `routes.me` and whose sockets
   *   are closed by `watchSession` over `setup.resource.revocations`.
   */
  start: StartTransport;
  /** The WebSocket client class, e.g. `WebSocket` from `ws` (Node 20's fetch cannot upgrade). */
  WebSocket: TransportWebSocketClass;
  /**
   * Optional: the adapter's authority factory (e.g. `(options) => sessionAuthority(options)`), so
   * the suite checks that it refuses the same invalid options as `createAuthority` does.
   */
  factory?: (options: AuthorityOptions<unknown>) => unknown;
}

/**
 * Registers the transport conformance suite (vitest) for one HTTP adapter.
 *
 * @example
 * ```ts
 * import { once } from 'node:events';
 * import { createServer } from 'node:http';
 * import { sessionAuthority, jwksHandler, requireAuth } from '@sessionkit/express';
 * import { describeTransportConformance } from '@sessionkit/testing';
 * import express from 'express';
 * import { WebSocket } from 'ws';
 *
 * describeTransportConformance({
 *   name: 'express',
 *   WebSocket,
 *   factory: (options) => sessionAuthority(options),
 *   async start(setup) {
 *     const app = express();
 *     app.use(setup.basePath, sessionAuthority({ kit: setup.kit, ...setup.authority }));
 *     app.get('/.well-known/jwks.json', jwksHandler(setup.kit));
 *     app.get('/api/me', requireAuth(setup.resource.routes.me), (req, res) => res.json({ claims: req.auth }));
 *     // … /api/admin, /api/mfa, POST /api/me, and the /ws upgrade with watchSession
 *     const server = createServer(app).listen(0, '127.0.0.1');
 *     await once(server, 'listening');
 *     const { port } = server.address() as { port: number };
 *     const url = `http://127.0.0.1:${port}`;
 *     return { authorityUrl: url, resourceUrl: url, close: () => new Promise((done) => server.close(() => done())) };
 *   },
 * });
 * ```
 */
export function describeTransportConformance(options: TransportConformanceOptions): void {
  if (typeof options.start !== 'function') {
    throw new TypeError('describeTransportConformance needs start(setup), which serves the setup over HTTP');
  }
  if (typeof options.WebSocket !== 'function') {
    throw new TypeError(
      "describeTransportConformance needs a WebSocket client class (e.g. WebSocket from 'ws')",
    );
  }
  const launcher = createLauncher(options.start);

  describe(`transport conformance: ${options.name}`, () => {
    afterEach(async () => {
      await launcher.closeAll();
    });

    describeAuthorityContract(launcher);
    describeCookieContract(launcher, options.factory);
    describeResourceContract(launcher, options.WebSocket);
  });
}
