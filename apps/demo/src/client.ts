/**
 * The scripted client behind `pnpm demo`: it talks to the two services over HTTP only, as a browser
 * app or a mobile client would, walks the token lifecycle step by step, prints each step in plain
 * words and checks every answer. The first answer that differs from the expectation stops the run
 * with a {@link ScenarioFailure} naming the step, what was expected and what came back.
 *
 * Tokens are never printed in full: a handle shows their first 8 characters and 8 hex digits of
 * their SHA-256 (`skr_0196…#3f9a2c1b`), enough to see which tokens are the same.
 */

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ScenarioOptions {
  readonly authorityUrl: string;
  readonly resourceUrl: string;
  readonly username: string;
  readonly password: string;
  /** The authority's lockout threshold, to show the lockout in the last step. */
  readonly maxConsecutiveFailures: number;
  /** Receives every line of the walk-through. */
  readonly log: (line: string) => void;
}

/** An expectation that did not hold. `step` is the plain-words title of the step it belongs to. */
export class ScenarioFailure extends Error {
  override readonly name = 'ScenarioFailure';
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`step "${step}": ${message}`);
  }
}

/** How long the client waits for a revocation to reach the resource service through the feed. */
const REVOCATION_PATIENCE_MS = 3_000;
const USER_AGENT = 'sessionkit-demo-client/1.0';

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, the text when it is not JSON, or undefined when there is no body. */
  readonly body: unknown;
  readonly text: string;
}

interface TokenResponse {
  readonly access_token: string;
  readonly refresh_token: string;
  readonly expires_in: number;
  readonly token_type: string;
}

/**
 * A short, non-reversible name for a token, for logs.
 *
 * @example
 * ```ts
 * handle('skr_0196f3c1-….Zx9…'); // 'skr_0196…#3f9a2c1b'
 * ```
 */
export function handle(token: string): string {
  const digest = createHash('sha256').update(token).digest('hex').slice(0, 8);
  return `${token.slice(0, 8)}…#${digest}`;
}

/**
 * Runs the walk-through against running services. Resolves when every step behaved as designed.
 *
 * @example
 * ```ts
 * await runScenario({ authorityUrl, resourceUrl, username, password, maxConsecutiveFailures: 5, log: console.log });
 * ```
 */
export async function runScenario(options: ScenarioOptions): Promise<void> {
  const { log } = options;
  const auth = `${options.authorityUrl}/auth`;
  const api = options.resourceUrl;
  let step = '';
  let stepNumber = 0;

  function begin(title: string): void {
    stepNumber += 1;
    step = title;
    log('');
    log(`${stepNumber}. ${title}`);
  }
  function say(line: string): void {
    log(`   ${line}`);
  }
  function expect(condition: boolean, expectation: string, reply?: Reply): asserts condition {
    if (!condition) {
      const got = reply ? `; got HTTP ${reply.status} ${describeBody(reply)}` : '';
      throw new ScenarioFailure(step, `expected ${expectation}${got}`);
    }
    say(`✓ ${expectation}`);
  }
  function tokens(reply: Reply): TokenResponse {
    expect(
      isTokenResponse(reply),
      '200 with a Bearer access token, an skr_ refresh token and Cache-Control: no-store',
      reply,
    );
    return reply.body as TokenResponse;
  }
  const login = (password: string) =>
    call('POST', `${auth}/sessions`, { json: { username: options.username, password } });
  const refresh = (refreshToken: string) =>
    call('POST', `${auth}/sessions/refresh`, { json: { refresh_token: refreshToken } });
  const me = (accessToken: string) => call('GET', `${api}/api/me`, { bearer: accessToken });

  /**
   * Polls the API until it refuses `accessToken` (the feed is asynchronous); returns the answer and
   * the time since `since` (when the authority confirmed the revocation).
   */
  async function awaitRefusal(
    accessToken: string,
    since: number,
  ): Promise<{ reply: Reply; waitedMs: number }> {
    for (;;) {
      const reply = await me(accessToken);
      const waitedMs = Math.round(performance.now() - since);
      if (reply.status !== 200 || waitedMs > REVOCATION_PATIENCE_MS) return { reply, waitedMs };
      await sleep(25);
    }
  }

  begin(`${options.username} logs in with her password (POST /auth/sessions)`);
  const first = tokens(await login(options.password));
  say(`access token ${handle(first.access_token)}, valid ${first.expires_in} s`);
  say(`refresh token ${handle(first.refresh_token)} (opaque, rotates on every use)`);

  begin('she calls the API with the access token (GET /api/me on the resource service)');
  const anonymous = await call('GET', `${api}/api/me`);
  expect(
    anonymous.status === 401 && /^Bearer /i.test(anonymous.headers.get('www-authenticate') ?? ''),
    'without a token: 401 with a WWW-Authenticate: Bearer challenge',
    anonymous,
  );
  const profile = await me(first.access_token);
  const claims = (profile.body as { claims?: Record<string, unknown> } | undefined)?.claims;
  expect(
    profile.status === 200 && typeof claims?.sub === 'string' && typeof claims.sid === 'string',
    'with it: 200 and the claims, verified offline from the JWKS',
    profile,
  );
  const sid = String(claims.sid);
  say(`sub ${String(claims.sub)}, sid ${sid}, email ${String(claims.email)}, scope ${String(claims.scope)}`);

  begin('the access token is about to expire: she refreshes (POST /auth/sessions/refresh)');
  const second = tokens(await refresh(first.refresh_token));
  expect(second.refresh_token !== first.refresh_token, 'a new refresh token: the old one is now rotated');
  say(`${handle(first.refresh_token)} → ${handle(second.refresh_token)}`);

  begin('five tabs refresh at the same moment with the same refresh token');
  const racers = await Promise.all(Array.from({ length: 5 }, () => refreshWithRetry(second.refresh_token)));
  racers.forEach(({ reply, retries }, index) => {
    const body = reply.body as Partial<TokenResponse> | undefined;
    const got = typeof body?.refresh_token === 'string' ? handle(body.refresh_token) : describeBody(reply);
    say(`tab ${index + 1}: HTTP ${reply.status} → ${got}${retries > 0 ? ` (after ${retries} retry)` : ''}`);
  });
  const failed = racers.find(({ reply }) => !isTokenResponse(reply));
  expect(failed === undefined, 'every tab: 200 with tokens', failed?.reply);
  const answers = racers.map(({ reply }) => reply.body as TokenResponse);
  const successors = new Set(answers.map((answer) => answer.refresh_token));
  const third = answers[0];
  expect(
    successors.size === 1 && third !== undefined && third.refresh_token !== second.refresh_token,
    'all five received one and the same successor: the chain did not fork',
  );
  const stillValid = await me(third.access_token);
  expect(stillValid.status === 200, 'the new access token works at the API', stillValid);

  begin('an attacker replays the first refresh token, stolen earlier (its successors have been used)');
  const replay = await refresh(first.refresh_token);
  const revokedAt = performance.now();
  expect(
    replay.status === 400 && errorOf(replay) === 'invalid_grant' && codeOf(replay) === 'refresh_token_reused',
    '400 invalid_grant, code refresh_token_reused: replay detected',
    replay,
  );

  begin('the whole family is revoked: her own, current refresh token is refused too');
  const afterReplay = await refresh(third.refresh_token);
  expect(
    afterReplay.status === 400 &&
      errorOf(afterReplay) === 'invalid_grant' &&
      codeOf(afterReplay) === 'revoked',
    '400 invalid_grant, code revoked',
    afterReplay,
  );

  begin('the API refuses the revoked session at once, though its access token has not expired');
  const refused = await awaitRefusal(third.access_token, revokedAt);
  expect(
    refused.reply.status === 401 &&
      /error="invalid_token"/.test(refused.reply.headers.get('www-authenticate') ?? ''),
    '401 with WWW-Authenticate: Bearer error="invalid_token"',
    refused.reply,
  );
  say(
    `refused ${refused.waitedMs} ms after the replay: the Postgres revocation feed put sid ${sid} on its denylist`,
  );

  begin('she logs in again and lists her sessions (GET /auth/sessions)');
  const fresh = tokens(await login(options.password));
  const freshProfile = await me(fresh.access_token);
  const freshSid = String((freshProfile.body as { claims?: { sid?: unknown } } | undefined)?.claims?.sid);
  expect(freshProfile.status === 200 && freshSid !== sid, 'a new session, accepted by the API', freshProfile);
  const listed = await call('GET', `${auth}/sessions`, { bearer: fresh.access_token });
  const sessions = (listed.body as { sessions?: SessionRow[] } | undefined)?.sessions;
  expect(listed.status === 200 && Array.isArray(sessions), '200 with a list of sessions', listed);
  for (const row of sessions) {
    say(
      `session ${row.id}${row.current ? ' (this one)' : ''}: since ${new Date(row.createdAt).toISOString()}, ` +
        `${row.client?.userAgent ?? 'unknown client'} from ${row.client?.ip ?? 'unknown address'}`,
    );
  }
  expect(
    sessions
      .filter((row) => row.current)
      .map((row) => row.id)
      .join() === freshSid,
    'exactly one session is marked current: the new one',
  );
  expect(!sessions.some((row) => row.id === sid), 'the revoked session is not listed');
  expect(
    !listed.text.includes('skr_') && !/token|hash/i.test(Object.keys(sessions[0] ?? {}).join()),
    'no token material in the list',
  );

  begin('she logs out (DELETE /auth/sessions/current)');
  const logout = await call('DELETE', `${auth}/sessions/current`, { bearer: fresh.access_token });
  const loggedOutAt = performance.now();
  expect(logout.status === 204, '204 No Content', logout);
  const afterLogout = await refresh(fresh.refresh_token);
  expect(
    afterLogout.status === 400 && errorOf(afterLogout) === 'invalid_grant',
    'her refresh token is refused (400 invalid_grant)',
    afterLogout,
  );
  const loggedOut = await awaitRefusal(fresh.access_token, loggedOutAt);
  expect(loggedOut.reply.status === 401, 'and the API refuses her access token (401)', loggedOut.reply);
  say(`refused ${loggedOut.waitedMs} ms after the logout, through the same feed`);

  const limit = options.maxConsecutiveFailures;
  begin(`someone guesses her password: ${limit} wrong attempts, then one more`);
  for (let attempt = 1; attempt <= limit; attempt += 1) {
    const wrong = await login(`wrong guess ${attempt}`);
    expect(
      wrong.status === 400 && errorOf(wrong) === 'invalid_grant',
      `attempt ${attempt}: 400 invalid_grant`,
      wrong,
    );
  }
  const locked = await login(options.password);
  const retryAfter = Number(locked.headers.get('retry-after'));
  expect(
    locked.status === 429 && Number.isInteger(retryAfter) && retryAfter > 0,
    `attempt ${limit + 1}, even with the right password: 429 with Retry-After`,
    locked,
  );
  say(`locked out for ${retryAfter} s for this username from this address; no password was checked`);

  /** One refresh as a careful client does it: on 409 renewal_in_progress, wait Retry-After and retry. */
  async function refreshWithRetry(refreshToken: string): Promise<{ reply: Reply; retries: number }> {
    let retries = 0;
    for (;;) {
      const reply = await refresh(refreshToken);
      if (reply.status !== 409 || retries >= 3) return { reply, retries };
      retries += 1;
      await sleep(Number(reply.headers.get('retry-after') ?? '1') * 1000);
    }
  }
}

interface SessionRow {
  readonly id: string;
  readonly current: boolean;
  readonly createdAt: number | string;
  readonly client?: { readonly userAgent?: string; readonly ip?: string };
}

async function call(
  method: string,
  url: string,
  options: { readonly json?: unknown; readonly bearer?: string } = {},
): Promise<Reply> {
  const headers = new Headers({ 'user-agent': USER_AGENT, accept: 'application/json' });
  if (options.bearer !== undefined) headers.set('authorization', `Bearer ${options.bearer}`);
  if (options.json !== undefined) headers.set('content-type', 'application/json');
  const response = await fetch(url, {
    method,
    headers,
    ...(options.json === undefined ? {} : { body: JSON.stringify(options.json) }),
  });
  const text = await response.text();
  let body: unknown;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, body, text };
}

function isTokenResponse(reply: Reply): boolean {
  const body = reply.body as Partial<TokenResponse> | undefined;
  return (
    reply.status === 200 &&
    body?.token_type === 'Bearer' &&
    typeof body.access_token === 'string' &&
    typeof body.refresh_token === 'string' &&
    body.refresh_token.startsWith('skr_') &&
    typeof body.expires_in === 'number' &&
    (reply.headers.get('cache-control') ?? '').includes('no-store')
  );
}

function errorOf(reply: Reply): unknown {
  return (reply.body as { error?: unknown } | undefined)?.error;
}

function codeOf(reply: Reply): unknown {
  return (reply.body as { code?: unknown } | undefined)?.code;
}

/** The body for a failure message, with anything token-shaped replaced by its handle. */
function describeBody(reply: Reply): string {
  if (reply.body === undefined) return '(no body)';
  const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  return text.replace(/(skr_|eyJ)[\w.\-~]{8,}/g, (token) => handle(token)).slice(0, 300);
}
