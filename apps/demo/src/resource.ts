/**
 * The resource service: Express 5 with `@sessionkit/express`'s `requireAuth`, verifying access
 * tokens offline against the authority's JWKS URL (`createRemoteJwks`: fetched once, cached, one
 * throttled refetch for an unknown `kid`) — no call to the authority per request. Revocations reach
 * it through the Postgres revocation feed (`createRevocationSubscriber` filling a memory denylist),
 * so a revoked session is refused at once instead of when its access token expires.
 */

import { createServer } from 'node:http';
import { requireAuth } from '@sessionkit/express';
import { createRevocationSubscriber, type FeedRevocation, type SqlDriver } from '@sessionkit/postgres';
import {
  createAccessTokenVerifier,
  createMemoryDenylist,
  createRemoteJwks,
} from '@sessionkit/sessions-core/verify';
import express from 'express';
import { closeServer, listen } from './http-server.js';
import { API_AUDIENCE, DEMO_SCOPE } from './settings.js';

export interface ResourceOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The authority's issuer (`iss`) and its JWKS URL. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** The authority's access-token TTL: with the clock tolerance, how long a denylist entry must live. */
  readonly accessTokenTtlMs: number;
  /** The revocation feed's connection (PGlite: the same in-process database). */
  readonly driver: SqlDriver;
  /** Told about every revocation the feed delivers after the start-up catch-up (serve mode prints them). */
  readonly onRevoked?: (revocation: FeedRevocation) => void;
  /** Told about feed or JWKS faults; default `console.warn`. */
  readonly onError?: (message: string) => void;
}

/** A running resource service. */
export interface RunningResource {
  readonly url: string;
  /** Revocations of the last token lifetime the feed loaded into the denylist at start. */
  readonly preloadedRevocations: number;
  close(): Promise<void>;
}

const CLOCK_TOLERANCE_MS = 30_000;

/**
 * Starts the resource service: warms the JWKS cache, starts the revocation feed, then listens.
 *
 * @example
 * ```ts
 * const resource = await startResource({ host, port: 4001, issuer, jwksUrl, accessTokenTtlMs, driver });
 * // GET ${resource.url}/api/me with Authorization: Bearer <access token>
 * ```
 */
export async function startResource(options: ResourceOptions): Promise<RunningResource> {
  const warn = options.onError ?? ((message: string) => console.warn(`[resource] ${message}`));
  const jwks = createRemoteJwks(options.jwksUrl, {
    ttl: '10m',
    onError: (error) => warn(`JWKS fetch: ${error.code}: ${error.message}`),
  });
  // One fetch now, so the first request is verified from the cache and a wrong URL fails the start.
  await jwks.refresh();

  const denylist = createMemoryDenylist();
  // The first read catches up on the last token lifetime's revocations: counted, not reported one by one.
  let caughtUp = false;
  let preloaded = 0;
  const subscriber = createRevocationSubscriber({
    driver: options.driver,
    denylist,
    tokenLifetimeMs: options.accessTokenTtlMs + CLOCK_TOLERANCE_MS,
    onError: (error) => warn(`revocation feed: ${error.message}`),
    onRevoked: (revocation) => {
      if (caughtUp) options.onRevoked?.(revocation);
      else preloaded += 1;
    },
  });
  await subscriber.start();
  await subscriber.ready;
  caughtUp = true;

  const verifier = createAccessTokenVerifier({
    issuer: options.issuer,
    audience: API_AUDIENCE,
    jwks,
    clockTolerance: CLOCK_TOLERANCE_MS / 1000,
    revocations: denylist,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // answers are per token and never cached
  app.get('/api/me', requireAuth({ verifier, scope: DEMO_SCOPE }), function me(req, res) {
    res.set('Cache-Control', 'no-store').json({ claims: req.auth });
  });
  app.use(function notFound(_req, res) {
    res.status(404).json({ error: 'not_found' });
  });

  const server = createServer(app);
  let port: number;
  try {
    port = await listen(server, options.host, options.port);
  } catch (error) {
    await subscriber.stop();
    throw error;
  }

  return {
    url: `http://${options.host}:${port}`,
    preloadedRevocations: preloaded,
    async close() {
      await closeServer(server);
      await subscriber.stop();
    },
  };
}
