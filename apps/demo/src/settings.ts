/**
 * The demo's settings in one place: where the services listen, where the data folder is, the seeded
 * user, the audience the resource service accepts and the login-throttling limits. `main.ts` reads
 * them from the command line and the environment; the test passes its own (ephemeral ports, a temp
 * folder, a short lockout).
 */

import { fileURLToPath } from 'node:url';

/** The account `pnpm demo` seeds on first start (and only if absent). */
export const SEEDED_USER = {
  username: 'alice@example.com',
  password: 'correct horse battery staple',
} as const;

/** The `aud` the authority puts in access tokens and the resource service requires. */
export const API_AUDIENCE = 'demo-api';

/** The access-token scope every demo login is granted (and `GET /api/me` requires). */
export const DEMO_SCOPE = 'profile';

/** The OAuth `client_id` the authority writes into access tokens. */
export const CLIENT_ID = 'demo-web';

/** Where the authority mounts its session routes; JWKS is at the root (`/.well-known/jwks.json`). */
export const AUTH_BASE_PATH = '/auth';

/** Login throttling: consecutive failures per username + IP, and failures per IP across usernames. */
export interface ThrottleSettings {
  /** Wrong passwords in a row (per username and IP) after which the pair is locked out. */
  readonly maxConsecutiveFailures: number;
  /** How long the lockout lasts, seconds. */
  readonly lockoutSeconds: number;
  /** Failures from one IP, whatever the username, allowed per `ipWindowSeconds`. */
  readonly maxFailuresPerIp: number;
  readonly ipWindowSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottleSettings = {
  maxConsecutiveFailures: 5,
  lockoutSeconds: 15 * 60,
  maxFailuresPerIp: 100,
  ipWindowSeconds: 60 * 60,
};

/** Everything `startDemo` needs. */
export interface DemoSettings {
  /** Interface both services bind to. Loopback only: the demo is not meant to be reachable. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly authorityPort: number;
  readonly resourcePort: number;
  /** Folder holding the PGlite database and the lock file; created if missing. */
  readonly dataDir: string;
  readonly throttle: ThrottleSettings;
}

export const DEFAULT_AUTHORITY_PORT = 4000;
export const DEFAULT_RESOURCE_PORT = 4001;

/** `apps/demo/.data/` whether run from `dist/` or from `src/` (git-ignored); `main.ts` adds `run/` or `serve/`. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL('../.data/', import.meta.url));

/**
 * Reads a port from the environment: unset or empty means `fallback`; anything else must be an
 * integer in 0..65535 (0 = any free port), or the demo refuses to start.
 *
 * @example
 * ```ts
 * portFromEnv('AUTHORITY_PORT', 4000); // 4000, or AUTHORITY_PORT when set
 * ```
 */
export function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) {
    throw new Error(`${name} must be a port number between 0 and 65535 (got "${raw}")`);
  }
  return port;
}
