/**
 * The auth authority: Hono on Node (`@hono/node-server`), sessionkit's routes from
 * `@sessionkit/hono` mounted under `/auth`, the public JWKS at `/.well-known/jwks.json`, sessions
 * in Postgres (PGlite). The app's own part is `authenticate`: argon2id password check behind the
 * login throttle, answering 429 with Retry-After when a limit refuses the attempt.
 *
 * The signing key is generated at every start and never written to disk: access tokens of an
 * earlier run stop verifying (clients refresh, which works because refresh tokens live in the
 * store), and no private key sits in the data folder.
 */

import { createServer } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { jwksHandler, sessionAuthority } from '@sessionkit/hono';
import { createPostgresRepository, type SqlDriver } from '@sessionkit/postgres';
import { createSessionKit, generateSigningKey, type SessionKit } from '@sessionkit/sessions-core';
import type { AuthenticateResult } from '@sessionkit/sessions-core/http';
import { Hono } from 'hono';
import { match } from 'ts-pattern';
import { closeServer, listen } from './http-server.js';
import { API_AUDIENCE, AUTH_BASE_PATH, CLIENT_ID, DEMO_SCOPE, type ThrottleSettings } from './settings.js';
import { createLoginThrottle } from './throttle.js';
import { normalizeUsername, type UserDirectory } from './users.js';

export interface AuthorityOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly driver: SqlDriver;
  readonly users: UserDirectory;
  readonly throttle: ThrottleSettings;
}

/** A running authority. */
export interface RunningAuthority {
  /** Base URL, also the `iss` of its tokens, e.g. `http://127.0.0.1:4000`. */
  readonly url: string;
  readonly jwksUrl: string;
  /** The signing key's id, as published in the JWKS. */
  readonly keyId: string;
  readonly kit: SessionKit;
  close(): Promise<void>;
}

/**
 * Starts the authority. The port is bound first because the issuer (`iss`) is the authority's own
 * URL, which an ephemeral port only makes known once it is bound.
 *
 * @example
 * ```ts
 * const authority = await startAuthority({ host: '127.0.0.1', port: 4000, driver, users, throttle });
 * console.log(`login: POST ${authority.url}/auth/sessions`);
 * ```
 */
export async function startAuthority(options: AuthorityOptions): Promise<RunningAuthority> {
  const signingKey = await generateSigningKey(); // EdDSA (Ed25519)
  const throttle = createLoginThrottle(options.throttle);

  let app: Hono | undefined;
  const server = createServer(
    getRequestListener((request, env) =>
      app ? app.fetch(request, env) : new Response('starting', { status: 503 }),
    ),
  );
  const port = await listen(server, options.host, options.port);
  const url = `http://${options.host}:${port}`;

  const kit = createSessionKit({
    repository: createPostgresRepository({ driver: options.driver }),
    signingKey,
    config: {
      issuer: url,
      audience: API_AUDIENCE,
      accessTokenTtl: '5m',
      sessionIdleTtl: '7d',
      familyAbsoluteTtl: '30d',
      reuseGrace: '10s',
      maxSessionsPerSubject: { max: 10, policy: 'evict_oldest' },
    },
  });

  async function authenticate(input: {
    body: Record<string, unknown>;
    client: { readonly ip?: string };
  }): Promise<AuthenticateResult> {
    const { username, password } = input.body;
    const name = typeof username === 'string' ? normalizeUsername(username) : null;
    if (name === null || typeof password !== 'string') {
      return {
        type: 'rejected',
        status: 400,
        error: 'invalid_request',
        description: 'send JSON {"username": "…", "password": "…"}',
      };
    }
    const outcome = await throttle.attempt({ username: name, ip: input.client.ip }, () =>
      options.users.checkPassword(name, password),
    );
    return (
      match(outcome)
        .returnType<AuthenticateResult>()
        .with({ type: 'succeeded' }, ({ value }) => ({
          type: 'authenticated',
          subject: value.subject,
          scope: DEMO_SCOPE,
          claims: { email: value.username },
          amr: ['pwd'],
        }))
        // RFC 6749 §5.2: wrong resource-owner credentials are a 400 invalid_grant.
        .with({ type: 'failed' }, () => ({
          type: 'rejected',
          status: 400,
          error: 'invalid_grant',
          description: 'wrong username or password',
        }))
        .with({ type: 'throttled' }, ({ retryAfterSeconds }) => ({
          type: 'rejected',
          status: 429,
          error: 'temporarily_unavailable',
          code: 'too_many_attempts',
          description: 'too many failed logins; try again later',
          retryAfterSeconds,
        }))
        .exhaustive()
    );
  }

  const hono = new Hono();
  hono.route(AUTH_BASE_PATH, sessionAuthority({ kit, clientId: CLIENT_ID, authenticate }));
  hono.get('/.well-known/jwks.json', jwksHandler(kit));
  hono.notFound((c) => c.json({ error: 'not_found' }, 404));
  app = hono;

  return {
    url,
    jwksUrl: `${url}/.well-known/jwks.json`,
    keyId: kit.jwks().keys[0]?.kid ?? '(none)',
    kit,
    close: () => closeServer(server),
  };
}
