/**
 * Encryption at rest through the repository, on the real Redis: metadata is sealed (no subject, IP,
 * user agent or claim in any stored value), records written under the previous key are read and
 * re-sealed under the current one, a wrong key or a tampered or transplanted record fails with a
 * typed error that quotes nothing, and the size cap is enforced before anything is written.
 */

import { randomBytes } from 'node:crypto';
import {
  createSessionKit,
  generateSigningKey,
  isSessionKitError,
  type SessionKit,
  type SessionRepository,
} from '@sessionkit/sessions-core';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createRedisRepository, type RecordEncryption } from '../src/index.js';
import { deletePrefix, dumpPrefix, redisClient, testPrefix } from './support/redis.js';

const client = redisClient();
const prefixes: string[] = [];
const signingKey = generateSigningKey();

const K1 = { id: 'k1', key: randomBytes(32) };
const K2 = { id: 'k2', key: randomBytes(32) };
const SUBJECT = 'subject-marker-5d1e';
const AGENT = 'agent-marker-91ab';
const IP = '198.51.100.77';

function repo(prefix: string, encryption?: RecordEncryption, maxRecordBytes?: number): SessionRepository {
  return createRedisRepository({
    client,
    prefix,
    ...(encryption === undefined ? {} : { encryption }),
    ...(maxRecordBytes === undefined ? {} : { maxRecordBytes }),
  });
}

async function kitOver(repository: SessionRepository): Promise<SessionKit> {
  return createSessionKit({
    repository,
    signingKey: await signingKey,
    config: { issuer: 'https://auth.example.com', audience: 'api', preset: 'aal1' },
  });
}

function newPrefix(): string {
  const prefix = testPrefix('enc');
  prefixes.push(prefix);
  return prefix;
}

async function issue(kit: SessionKit) {
  const result = await kit.issue({
    subject: SUBJECT,
    clientId: 'web',
    client: { ip: IP, userAgent: AGENT },
    claims: { team: 'claim-marker-3c3c' },
  });
  if (result.type !== 'issued') throw new Error(`expected issued, got ${result.type}`);
  return result;
}

/** Everything stored under the prefix, as one latin1 text. */
async function stored(prefix: string): Promise<string> {
  return (await dumpPrefix(client, prefix)).map((entry) => `${entry.key}\n${entry.text}`).join('\n');
}

async function familyFields(prefix: string, familyId: string): Promise<Record<string, Buffer>> {
  return client.hgetallBuffer(`${prefix}:f:{${familyId}}`);
}

async function expectTypedFailure(action: Promise<unknown>, code: string) {
  const error = await action.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(isSessionKitError(error), String(error)).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  const text = `${(error as Error).message} ${String((error as Error).cause ?? '')}`;
  for (const secret of [SUBJECT, AGENT, IP, K1.key.toString('hex'), K2.key.toString('base64')]) {
    expect(text).not.toContain(secret);
  }
}

afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deletePrefix(client, prefix);
});

afterAll(() => client.disconnect());

describe('encryption at rest (repository)', () => {
  it('round-trips every record and stores no subject, IP, user agent or claim in plaintext', async () => {
    const prefix = newPrefix();
    const kit = await kitOver(repo(prefix, { current: K1 }));
    const issued = await issue(kit);
    const renewed = await kit.renew(issued.tokens.refreshToken, { client: { ip: IP, userAgent: AGENT } });
    expect(renewed.type).toBe('renewed');
    const listed = await kit.list(SUBJECT);
    expect(listed).toHaveLength(1);
    const found = await repo(prefix, { current: K1 }).findSession(issued.sessionId);
    expect(found?.family).toMatchObject({ subject: SUBJECT, client: { ip: IP, userAgent: AGENT } });
    expect(found?.family.grant.claims).toEqual({ team: 'claim-marker-3c3c' });
    expect(found?.session).toMatchObject({ lastIp: IP, generation: 1 });

    const text = await stored(prefix);
    expect(text).toContain(issued.familyId);
    for (const secret of [SUBJECT, AGENT, IP, 'claim-marker-3c3c']) expect(text).not.toContain(secret);
    // The same lifecycle without encryption does show them: the check above can fail.
    const plainPrefix = newPrefix();
    await issue(await kitOver(repo(plainPrefix)));
    expect(await stored(plainPrefix)).toContain(AGENT);
  });

  it('reads records sealed under the previous key and re-seals them under the current key', async () => {
    const prefix = newPrefix();
    const issued = await issue(await kitOver(repo(prefix, { current: K1 })));
    const before = await familyFields(prefix, issued.familyId);

    const rotated = repo(prefix, { current: K2, previous: K1 });
    const found = await rotated.findFamily(issued.familyId);
    expect(found?.family.subject).toBe(SUBJECT);
    // Re-sealing runs right after the read, without failing it; wait for it to land.
    await expect
      .poll(async () => (await familyFields(prefix, issued.familyId)).fm?.equals(before.fm as Buffer), {
        timeout: 2000,
      })
      .toBe(false);
    const after = await familyFields(prefix, issued.familyId);
    for (const field of ['fm', 'fa']) {
      expect(after[field]?.subarray(0, 4).toString('latin1')).toBe('\u0002\u0002k2');
    }
    // Now readable with K2 alone: K1 can be retired.
    const k2Only = repo(prefix, { current: K2 });
    expect((await k2Only.findFamily(issued.familyId))?.family.subject).toBe(SUBJECT);
  });

  it('re-seals plain records once encryption is turned on', async () => {
    const prefix = newPrefix();
    const issued = await issue(await kitOver(repo(prefix)));
    const encrypted = repo(prefix, { current: K1 });
    expect((await encrypted.findFamily(issued.familyId))?.family.subject).toBe(SUBJECT);
    await expect
      .poll(async () => (await familyFields(prefix, issued.familyId)).fm?.[0], { timeout: 2000 })
      .toBe(0x02);
  });

  it('fails cleanly with a wrong key, and with no key for encrypted records', async () => {
    const prefix = newPrefix();
    const issued = await issue(await kitOver(repo(prefix, { current: K1 })));
    const wrong = { id: 'k1', key: randomBytes(32) };
    await expectTypedFailure(repo(prefix, { current: wrong }).findFamily(issued.familyId), 'crypto_failure');
    await expectTypedFailure(repo(prefix).findFamily(issued.familyId), 'crypto_failure');
    await expectTypedFailure(repo(prefix, { current: K2 }).findFamily(issued.familyId), 'crypto_failure');
    // A renewal through a kit with the wrong key fails with the same typed error, and writes nothing.
    const kit = await kitOver(repo(prefix, { current: wrong }));
    await expectTypedFailure(kit.renew(issued.tokens.refreshToken), 'crypto_failure');
    const intact = await repo(prefix, { current: K1 }).findFamily(issued.familyId);
    expect(intact?.sessions[0]?.generation).toBe(0);
  });

  it('refuses tampered ciphertext and a record transplanted to another family (wrong AAD)', async () => {
    const prefix = newPrefix();
    const repository = repo(prefix, { current: K1 });
    const kit = await kitOver(repository);
    const victim = await issue(kit);
    const other = await issue(kit);
    const key = `${prefix}:f:{${victim.familyId}}`;
    const fields = await familyFields(prefix, victim.familyId);
    const fm = Buffer.from(fields.fm as Buffer);

    const flipped = Buffer.from(fm);
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] as number) ^ 0x01;
    await client.hset(key, 'fm', flipped);
    await expectTypedFailure(repository.findFamily(victim.familyId), 'crypto_failure');

    // The other family's metadata, valid under the same key, copied over: its AAD is the other id.
    const foreign = (await familyFields(prefix, other.familyId)).fm as Buffer;
    await client.hset(key, 'fm', foreign);
    await expectTypedFailure(repository.findFamily(victim.familyId), 'crypto_failure');

    // The family's own auth-context record moved into its metadata field: AAD differs by purpose.
    await client.hset(key, 'fm', fields.fa as Buffer);
    await expectTypedFailure(repository.findFamily(victim.familyId), 'crypto_failure');

    await client.hset(key, 'fm', fm);
    expect((await repository.findFamily(victim.familyId))?.family.subject).toBe(SUBJECT);
  });

  it('enforces the size cap with a typed error before anything is written', async () => {
    const prefix = newPrefix();
    const kit = await kitOver(repo(prefix, { current: K1 }, 1024));
    const result = kit.issue({
      subject: SUBJECT,
      clientId: 'web',
      claims: { blob: 'x'.repeat(2000) },
    });
    await expectTypedFailure(result, 'invalid_argument');
    expect(await dumpPrefix(client, prefix)).toEqual([]);
    // Below the cap it works.
    await issue(kit);
  });
});
