/**
 * Hostile input against real Postgres: SQL fragments, LIKE wildcards, NUL bytes, lone surrogates,
 * look-alike ids and a 1 MB string, passed as refresh tokens, token hashes, session and family ids
 * and subjects to the kit and to the repository. Each is rejected or finds nothing — nothing
 * throws except the documented `InvalidArgumentError` for a non-string id — and afterwards every
 * table is still there with every row unchanged.
 */

import {
  type FamilyId,
  InvalidArgumentError,
  type SessionId,
  type SessionKit,
  type TokenHash,
} from '@sessionkit/sessions-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresRepository, type PostgresRepository } from '../src/index.js';
import { type Harness, issueFor, openHarness, snapshot } from './support/harness.js';

let h: Harness;
let kit: SessionKit;
let repository: PostgresRepository;
let alice: Awaited<ReturnType<typeof issueFor>>;
let bob: Awaited<ReturnType<typeof issueFor>>;

beforeAll(async () => {
  h = await openHarness('hostile');
  const driver = h.driver({ max: 4 });
  kit = h.kit(driver);
  repository = createPostgresRepository({ driver, schema: h.schema });
  alice = await issueFor(kit, 'alice');
  bob = await issueFor(kit, 'bob');
  await kit.renew(bob.tokens.refreshToken);
});

afterAll(async () => {
  await h?.close();
});

/** Every table of the schema with its row count. */
async function tableCounts(): Promise<Record<string, number>> {
  const tables = await h.q<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = $1 ORDER BY table_name`,
    [h.schema],
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = await h.q<{ n: number }>(`SELECT count(*)::int AS n FROM $S."${name}"`);
    counts[name] = row?.n ?? -1;
  }
  return counts;
}

function hostileValues(): [string, string][] {
  const family = alice.familyId;
  const secret = alice.tokens.refreshToken.slice(alice.tokens.refreshToken.indexOf('.') + 1);
  return [
    ['DROP TABLE', `'; DROP TABLE ${h.schema}.families;--`],
    ['DROP SCHEMA', `'); DROP SCHEMA ${h.schema} CASCADE;--`],
    ['star', '*'],
    ['percent', '%'],
    ['underscore', '_'],
    ['always-true prefix', "skr_' OR '1'='1"],
    ['SQL in the secret', `skr_${family}.' OR 1=1; DELETE FROM ${h.schema}.refresh_tokens;--`],
    ['SQL in a secret of the right length', `skr_${family}.'||(SELECT pg_sleep(5))||'${'A'.repeat(17)}`],
    ['empty secret', `skr_${family}.`],
    ['look-alike with a forged secret', `skr_${family}.${'A'.repeat(secret.length)}`],
    ['NUL', '\u0000'],
    ['NUL in a token', `skr_${family}.${secret.slice(0, 10)}\u0000${secret.slice(11)}`],
    ['NUL after an id', `${alice.sessionId}\u0000`],
    ['lone surrogate', '\ud800'],
    ['empty', ''],
    ['upper-case id', alice.sessionId.toUpperCase()],
    ['braced id', `{${alice.sessionId}}`],
    ['id with a space', ` ${alice.sessionId}`],
    ['id then SQL', `${alice.sessionId}' OR '1'='1`],
    ['1 MB', 'x'.repeat(1 << 20)],
    ['1 MB token', `skr_${family}.${'A'.repeat(1 << 20)}`],
  ];
}

const NOTHING = { families: [], sessions: [] };

describe('hostile tokens, hashes and ids', () => {
  it('are rejected or find nothing, through the kit and the repository, and change nothing', async () => {
    const tablesBefore = await tableCounts();
    const rowsBefore = await snapshot(h);
    expect(Object.keys(tablesBefore)).toEqual(
      expect.arrayContaining(['families', 'sessions', 'refresh_tokens', 'events', 'revocations', 'leases']),
    );

    for (const [label, value] of hostileValues()) {
      const renewed = await kit.renew(value);
      expect(renewed.type, label).toBe('rejected');
      expect(['malformed', 'unknown'], label).toContain((renewed as { reason: string }).reason);

      expect(await repository.findByTokenHash(value as TokenHash, value as FamilyId), label).toBeNull();
      expect(
        await repository.findByTokenHash(await kit.hashRefreshToken(value), value as FamilyId),
        label,
      ).toBeNull();
      expect(await repository.findSession(value as SessionId), label).toBeNull();
      expect(await repository.findFamily(value as FamilyId), label).toBeNull();
      expect(
        await repository.revokeSession({ sessionId: value as SessionId, reason: 'admin', now: Date.now() }),
        label,
      ).toEqual(NOTHING);
      expect(
        await repository.revokeFamily({ familyId: value as FamilyId, reason: 'admin', now: Date.now() }),
        label,
      ).toEqual(NOTHING);
      expect(await kit.revoke({ type: 'session', sessionId: value }), label).toEqual(NOTHING);
      expect(await kit.revoke({ type: 'family', familyId: value }), label).toEqual(NOTHING);
      expect(await kit.elevate(value, { amr: ['pwd'] }), label).toEqual({
        type: 'rejected',
        reason: 'unknown',
      });
      expect(await kit.touch(value), label).toBe(false);
      if (value !== '') {
        expect(await kit.list(value), label).toEqual([]);
        expect(await kit.revoke({ type: 'subject', subject: value }), label).toEqual(NOTHING);
      }
    }

    expect(await tableCounts()).toEqual(tablesBefore);
    expect(await snapshot(h)).toEqual(rowsBefore);
    expect(await kit.renew(alice.tokens.refreshToken)).toMatchObject({ type: 'renewed', reused: false });
  });

  it('non-strings: renew rejects them as malformed values, revoke and touch throw InvalidArgumentError', async () => {
    const rowsBefore = await snapshot(h);
    const values: unknown[] = [
      null,
      undefined,
      42,
      { toString: () => alice.tokens.refreshToken },
      [alice.tokens.refreshToken],
      Symbol('x'),
    ];
    for (const value of values) {
      expect(await kit.renew(value)).toEqual({ type: 'rejected', reason: 'malformed' });
      expect(await repository.findByTokenHash(value as TokenHash, value as FamilyId)).toBeNull();
      expect(await repository.findSession(value as SessionId)).toBeNull();
      expect(await repository.findFamily(value as FamilyId)).toBeNull();
      expect(
        await repository.revokeSession({ sessionId: value as SessionId, reason: 'admin', now: Date.now() }),
      ).toEqual(NOTHING);
      await expect(kit.revoke({ type: 'session', sessionId: value as string })).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
      await expect(kit.revoke({ type: 'family', familyId: value as string })).rejects.toMatchObject({
        code: 'invalid_argument',
      });
      await expect(kit.touch(value as string)).rejects.toMatchObject({ code: 'invalid_argument' });
    }
    expect(await snapshot(h)).toEqual(rowsBefore);
  });
});

describe('hostile text stored through the kit', () => {
  it('subjects and client details are kept verbatim and match only themselves', async () => {
    const subjects = [`'; DROP TABLE ${h.schema}.families;--`, '%', '*', "bob' OR '1'='1"];
    const userAgent = `'); DELETE FROM ${h.schema}.sessions;--\u00e9\u{1f600}`;
    const issued = [];
    for (const subject of subjects) {
      const result = await kit.issue({
        subject,
        clientId: `client'--`,
        client: { userAgent, ip: '203.0.113.9' },
      });
      if (result.type !== 'issued') throw new Error(`issue: ${JSON.stringify(result)}`);
      issued.push(result);
    }
    for (const subject of subjects) {
      const listed = await kit.list(subject);
      expect(listed).toHaveLength(1);
      expect(listed[0]?.client).toMatchObject({ userAgent });
    }
    expect(await kit.revoke({ type: 'subject', subject: '%' })).toMatchObject({
      families: [issued[1]?.familyId],
    });
    expect(await kit.list('alice')).toHaveLength(1);
    expect(await kit.list('bob')).toHaveLength(1);
    const tables = await tableCounts();
    expect(tables.families).toBeGreaterThanOrEqual(2 + subjects.length);
  });
});
