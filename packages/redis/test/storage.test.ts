/**
 * What reaches Redis: a full lifecycle through the kit on the standalone server (issue, renewal
 * chains, grace reuse, a replay revoking its family, step-up, logout, revocation by subject,
 * cleanup), then every key under the prefix dumped with its TTL. Every key has a TTL; no refresh
 * token issued during the run (whole, its secret as text, its secret's bytes raw, in hex or in
 * base64) and no access token (whole or its signature) appears in any key or value; the revocation
 * feed holds no token hash. With encryption at rest, no subject, IP or user agent appears in
 * plaintext either — and without it they do, so that check can fail.
 */

import { randomBytes } from 'node:crypto';
import { createFakeClock, type SessionKit, type TokenSet } from '@sessionkit/sessions-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisRepository, type RecordEncryption } from '../src/index.js';
import { chainViolations, readFamily } from './support/chain.js';
import { issueFor, kitOver, renewedToken } from './support/kit.js';
import { deletePrefix, dumpPrefix, redisClient, testPrefix } from './support/redis.js';

const client = redisClient();
const prefixes: string[] = [];

afterAll(async () => {
  try {
    for (const prefix of prefixes) await deletePrefix(client, prefix);
  } finally {
    client.disconnect();
  }
});

/** Who signs in, from where: markers that must not be stored in plaintext under encryption. */
const PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin'].map((name, i) => ({
  subject: `${name}-subject-4c1f`,
  ip: `198.51.100.${10 + i}`,
  userAgent: `storage-test-agent/${name}-77ab`,
}));
/** The IP renewals come from (stored as the session's last IP). */
const RENEWAL_IP = '203.0.113.219';
const PRIVATE_MARKERS = [
  ...PEOPLE.flatMap((person) => [person.subject, person.ip, person.userAgent]),
  RENEWAL_IP,
];

function person(index: number) {
  const found = PEOPLE[index];
  if (found === undefined) throw new Error(`no person #${index}`);
  return found;
}

/** The forms a refresh token could leak in: whole, its secret as text, its bytes raw, hex and base64. */
function refreshNeedles(token: string): { label: string; value: string }[] {
  const secret = token.slice(token.indexOf('.') + 1);
  const bytes = Buffer.from(secret, 'base64url');
  expect(bytes).toHaveLength(32);
  return [
    { label: 'refresh token', value: token },
    { label: 'refresh secret (base64url)', value: secret },
    { label: 'refresh secret (raw bytes)', value: bytes.toString('latin1') },
    { label: 'refresh secret (hex)', value: bytes.toString('hex') },
    { label: 'refresh secret (HEX)', value: bytes.toString('hex').toUpperCase() },
    { label: 'refresh secret (base64)', value: bytes.toString('base64').replace(/=+$/, '') },
  ];
}

/** An access token whole, and its signature (unique per token). */
function accessNeedles(token: string): { label: string; value: string }[] {
  const signature = token.split('.')[2] ?? '';
  expect(signature.length).toBeGreaterThan(40);
  return [
    { label: 'access token', value: token },
    { label: 'access token signature', value: signature },
  ];
}

/**
 * The lifecycle of the Postgres storage test, through `kit`: five families — alice (renewed, then
 * replayed), bob (grace reuse, step-up), carol (left idle), dave (revoked by subject), erin (one
 * session logged out). Returns every token set handed out, and who is who.
 */
async function lifecycle(kit: SessionKit, clock: ReturnType<typeof createFakeClock>) {
  const handedOut: TokenSet[] = [];
  const keep = <T extends { tokens: TokenSet }>(result: T): T => {
    handedOut.push(result.tokens);
    return result;
  };
  const renew = async (token: string) => {
    const result = await kit.renew(token, { client: { ip: RENEWAL_IP } });
    if (result.type === 'renewed') handedOut.push(result.tokens);
    return result;
  };
  const [alice, bob, carol, dave, erin] = await Promise.all(
    PEOPLE.map(async ({ subject, ip, userAgent }) => keep(await issueFor(kit, subject, { ip, userAgent }))),
  );
  if (!alice || !bob || !carol || !dave || !erin) throw new Error('issue failed');

  clock.advance(30 * 60_000);
  const alice1 = renewedToken(await renew(alice.tokens.refreshToken));
  const alice2 = renewedToken(await renew(alice1));
  const bob1 = await renew(bob.tokens.refreshToken);
  clock.advance(1_000);
  const bobAgain = await renew(bob.tokens.refreshToken);
  expect(bobAgain).toMatchObject({ type: 'renewed', reused: true });
  expect(renewedToken(bobAgain)).toBe(renewedToken(bob1));

  clock.advance(10_000); // past the grace window
  expect(await renew(alice1)).toEqual({ type: 'replay_detected', familyId: alice.familyId });
  expect(await renew(alice2)).toMatchObject({ type: 'rejected', reason: 'revoked' });

  const elevated = await kit.elevate(bob.sessionId, { amr: ['pwd', 'otp'], acr: 'mfa' });
  if (elevated.type !== 'elevated') throw new Error(`elevate: ${JSON.stringify(elevated)}`);
  keep(elevated);
  expect(await renew(renewedToken(bobAgain))).toMatchObject({ type: 'rejected', reason: 'session_ended' });
  const bobStepped = renewedToken(await renew(elevated.tokens.refreshToken));

  expect(await kit.revoke({ type: 'subject', subject: person(3).subject })).toMatchObject({
    families: [dave.familyId],
  });
  expect(await kit.revoke({ type: 'session', sessionId: erin.sessionId })).toMatchObject({
    sessions: [erin.sessionId],
  });
  expect(await renew(erin.tokens.refreshToken)).toMatchObject({ type: 'rejected', reason: 'revoked' });

  // 5 issued + alice×2 + bob + bob's grace reuse + step-up + its renewal.
  expect(handedOut).toHaveLength(11);
  return { handedOut, alice, bob, carol, dave, erin, bobStepped, bobSession: elevated.sessionId };
}

/** Everything stored under `prefix`: each key with its TTL and its contents (latin1). */
async function storedUnder(prefix: string) {
  const dumped = await dumpPrefix(client, prefix);
  return {
    dumped,
    text: dumped.map((entry) => `${entry.key}\n${entry.text}`).join('\n'),
  };
}

/** Fails the test if any key lacks a TTL or any key or value holds token material. */
async function expectClean(kit: SessionKit, prefix: string, handedOut: readonly TokenSet[], moment: string) {
  const { dumped, text } = await storedUnder(prefix);
  expect(dumped.length, moment).toBeGreaterThan(0);
  expect(
    dumped.filter((entry) => entry.ttlMs <= 0).map((entry) => `${entry.type} ${entry.key} (${entry.ttlMs})`),
    `${moment}: keys without a TTL`,
  ).toEqual([]);
  const needles = handedOut.flatMap((set, i) =>
    [...refreshNeedles(set.refreshToken), ...accessNeedles(set.accessToken)].map((needle) => ({
      ...needle,
      label: `${needle.label} #${i}`,
    })),
  );
  // Labelled, so a failure names what leaked without printing the material itself.
  const leaked = needles.filter(({ value }) => text.includes(value)).map(({ label }) => label);
  expect(leaked, `${moment}: token material stored`).toEqual([]);
  const feed = dumped.filter((entry) => entry.type === 'stream');
  const hashes = await Promise.all(handedOut.map((set) => kit.hashRefreshToken(set.refreshToken)));
  for (const entry of feed) {
    expect(
      hashes.filter((hash) => entry.text.includes(hash)),
      `${moment}: ${entry.key} holds a token hash`,
    ).toEqual([]);
  }
  return { dumped, text };
}

async function setup(encryption?: RecordEncryption) {
  const prefix = testPrefix(encryption === undefined ? 'store' : 'store-enc');
  prefixes.push(prefix);
  const clock = createFakeClock(Date.UTC(2026, 0, 1));
  const repository = createRedisRepository({
    client,
    prefix,
    ...(encryption === undefined ? {} : { encryption }),
  });
  const kit = await kitOver(repository, { clock, config: { sessionIdleTtl: '1h' } });
  return { prefix, clock, kit };
}

describe('storage after a full lifecycle', () => {
  it('every key has a TTL and no key or value holds a refresh or access token, before and after cleanup', async () => {
    const { prefix, clock, kit } = await setup();
    const run = await lifecycle(kit, clock);
    const { text } = await expectClean(kit, prefix, run.handedOut, 'before cleanup');
    expect(await chainViolations(client, prefix)).toEqual([]);

    // The dump is not vacuous: it holds the hashes of stored tokens, sealed successors, the feed.
    expect(text).toContain(`t:${await kit.hashRefreshToken(run.bobStepped)}`);
    expect(text).toContain(`t:${await kit.hashRefreshToken(run.alice.tokens.refreshToken)}`);
    const bob = await readFamily(client, prefix, run.bob.familyId);
    const sealed = [...(bob?.tokens.values() ?? [])].flatMap((token) => (token.ss ? [token.ss] : []));
    expect(sealed.length).toBeGreaterThan(0);
    expect(sealed.every((each) => each.length > 40)).toBe(true);
    expect(text).toContain(sealed[0]);
    expect(text).toContain('replay_detected');
    // Without encryption the metadata is plain: the encrypted run's check below can fail.
    for (const marker of [person(0).subject, person(0).userAgent, RENEWAL_IP]) expect(text).toContain(marker);

    clock.advance(45 * 60_000); // carol, dave and erin have been idle for over an hour
    expect((await kit.deleteExpired()).deleted).toBe(3);
    const after = await expectClean(kit, prefix, run.handedOut, 'after cleanup');
    // Their hashes, index keys and registry entries are gone; only the revocation feed still names
    // dave's and erin's sessions, as it must for its retention.
    const kept = after.dumped
      .filter((entry) => entry.type !== 'stream')
      .map((entry) => `${entry.key}\n${entry.text}`)
      .join('\n');
    for (const gone of [run.carol, run.dave, run.erin]) {
      expect(kept).not.toContain(gone.familyId);
      expect(kept).not.toContain(gone.sessionId);
    }
    expect(after.text).toContain(run.bob.familyId);
    expect(after.dumped.find((entry) => entry.key === `${prefix}:stats`)?.text).toContain('expired');
    expect(await chainViolations(client, prefix)).toEqual([]);
  });

  it('with encryption at rest, no subject, IP or user agent is stored in plaintext either', async () => {
    const encryption = { current: { id: 'storage-k1', key: randomBytes(32) } };
    const { prefix, clock, kit } = await setup(encryption);
    const run = await lifecycle(kit, clock);
    const { text } = await expectClean(kit, prefix, run.handedOut, 'encrypted');
    expect(text).toContain(run.bob.familyId);
    expect(
      PRIVATE_MARKERS.filter((marker) => text.includes(marker)),
      'plaintext metadata stored',
    ).toEqual([]);
    // ...while the records do hold them: read back through the repository they are all there.
    const found = await createRedisRepository({ client, prefix, encryption }).findSession(run.bobSession);
    expect(found?.family).toMatchObject({
      subject: person(1).subject,
      client: { ip: person(1).ip, userAgent: person(1).userAgent },
    });
    expect(found?.session.lastIp).toBe(RENEWAL_IP);
    expect(await chainViolations(client, prefix)).toEqual([]);
  });
});
