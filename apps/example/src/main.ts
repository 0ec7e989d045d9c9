/**
 * The runnable example behind `pnpm demo` (until the full HTTP demo lands): one process plays the
 * authority, the resource service and the client, printing each lifecycle step in plain words.
 * It exits 0 when every step behaved as DESIGN §4 says, 1 otherwise.
 */

import {
  createMemoryRepository,
  createSessionKit,
  generateSigningKey,
  type RenewResult,
  type SessionEvent,
} from '@sessionkit/sessions-core';
import { createAccessTokenVerifier } from '@sessionkit/sessions-core/verify';
import { match } from 'ts-pattern';

const events: SessionEvent[] = [];
let failures = 0;

function step(text: string): void {
  console.log(`\n▶ ${text}`);
}

function check(ok: boolean, text: string): void {
  console.log(`  ${ok ? '✓' : '✗'} ${text}`);
  if (!ok) failures += 1;
}

function describe(result: RenewResult): string {
  return match(result)
    .with({ type: 'renewed', reused: true }, () => 'renewed (idempotent retry: same refresh token)')
    .with({ type: 'renewed' }, () => 'renewed (new refresh token)')
    .with(
      { type: 'renewal_in_progress' },
      ({ retryAfterMs }) => `renewal in progress, retry in ${retryAfterMs} ms`,
    )
    .with({ type: 'replay_detected' }, () => 'replay detected: the whole family is revoked')
    .with({ type: 'rejected' }, ({ reason }) => `rejected (${reason})`)
    .exhaustive();
}

const repository = createMemoryRepository();
const signingKey = await generateSigningKey();
const kit = createSessionKit({
  repository,
  signingKey,
  config: {
    issuer: 'https://auth.example.test',
    audience: 'api',
    familyAbsoluteTtl: '30d',
    reuseGrace: '2s',
  },
  events: (event) => {
    events.push(event);
  },
});
// The resource side: public keys only, no call to the authority per request.
const verifier = createAccessTokenVerifier({ issuer: kit.config.issuer, audience: 'api', jwks: kit.jwks() });
const verify = async (token: string) => {
  const result = await verifier.verify(token);
  return result.ok ? result.claims : null;
};

step('alice logs in (the app checked her password; sessionkit issues the tokens)');
const issued = await kit.issue({
  subject: 'alice',
  clientId: 'web',
  scope: 'profile',
  authContext: { amr: ['pwd'] },
  client: { ip: '203.0.113.7', userAgent: 'ExampleBrowser/1.0' },
});
if (issued.type !== 'issued') throw new Error('login was refused');
console.log(`  family ${issued.familyId}, session ${issued.sessionId}`);
console.log(`  access token expires in ${issued.tokens.expiresIn} s; refresh token is opaque (skr_…)`);

step('the resource service verifies the access token offline with the JWKS');
const claims = await verify(issued.tokens.accessToken);
check(
  claims?.sub === 'alice' && claims.sid === issued.sessionId,
  `claims: sub=${claims?.sub}, sid=${claims?.sid}`,
);

step('the client refreshes: the refresh token rotates');
const first = await kit.renew(issued.tokens.refreshToken);
console.log(`  ${describe(first)}`);
check(
  first.type === 'renewed' && first.tokens.refreshToken !== issued.tokens.refreshToken,
  'a new refresh token',
);
if (first.type !== 'renewed') process.exit(1);

step('five tabs refresh at the same moment with the same token');
const parallel = await Promise.all(Array.from({ length: 5 }, () => kit.renew(first.tokens.refreshToken)));
for (const result of parallel) console.log(`  ${describe(result)}`);
const successors = new Set(parallel.flatMap((r) => (r.type === 'renewed' ? [r.tokens.refreshToken] : [])));
check(successors.size === 1, 'all tabs received one and the same successor: the chain did not fork');
const successor = [...successors][0] ?? '';

step('an attacker replays the very first refresh token (its successor has been used since)');
const replay = await kit.renew(issued.tokens.refreshToken);
console.log(`  ${describe(replay)}`);
check(replay.type === 'replay_detected', 'replay detected');

step("the legitimate client's current token no longer works either");
const afterReplay = await kit.renew(successor);
console.log(`  ${describe(afterReplay)}`);
check(afterReplay.type === 'rejected' && afterReplay.reason === 'revoked', 'the family is revoked');
const security = events.filter((event) => event.type === 'session.replay_detected');
check(security.length === 1, `one security event emitted (${security.length})`);

step('alice logs in again and lists her sessions');
const again = await kit.issue({ subject: 'alice', clientId: 'web', authContext: { amr: ['pwd'] } });
check(again.type === 'issued', 'a fresh family');
const sessions = await kit.list('alice');
for (const session of sessions)
  console.log(`  session ${session.sessionId} since ${new Date(session.createdAt).toISOString()}`);
check(sessions.length === 1, 'only the live session is listed; no token material in the list');

console.log(failures === 0 ? '\nAll steps behaved as designed.' : `\n${failures} step(s) misbehaved.`);
process.exit(failures === 0 ? 0 : 1);
