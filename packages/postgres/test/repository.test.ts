/**
 * What the conformance suite cannot see, on both drivers: statements per call (rotation is one),
 * the revocation feed rows and NOTIFY payloads, the audit rows, hostile lookups that must neither
 * fail nor change anything, misuse and store faults as typed errors without values, and cleanup
 * shared between processes. On real Postgres, also the races that need true concurrency: parallel
 * cleaners, and revocations racing rotations and replacements.
 */

import { PGlite } from '@electric-sql/pglite';
import type { FamilyId, LeaseId, SessionId, SessionRepository, TokenHash } from '@sessionkit/sessions-core';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createPgDriver,
  createPgliteDriver,
  createPostgresRepository,
  REVOCATION_CHANNEL,
  type SqlDriver,
  type SqlExecutor,
} from '../src/index.js';
import { emptySchema } from './support/database.js';
import {
  type Backend,
  buildChain,
  type Chain,
  DAY,
  HOUR,
  id,
  MINUTE,
  pgBackend,
  pgliteBackend,
  replacement,
  rotation,
  T0,
} from './support/records.js';

/** Counts what a driver sends: each statement, and each transaction (BEGIN + COMMIT = 2 more). */
function counting(inner: SqlDriver) {
  const counts = { statements: 0, transactions: 0 };
  const driver: SqlDriver = {
    ...inner,
    query(text, params) {
      counts.statements++;
      return inner.query(text, params);
    },
    transaction(work) {
      counts.transactions++;
      return inner.transaction((tx) =>
        work({
          query(text, params) {
            counts.statements++;
            return tx.query(text, params);
          },
        } satisfies SqlExecutor),
      );
    },
  };
  return {
    driver,
    /** Round trips since the last call: statements + 2 per transaction. */
    take() {
      const trips = { statements: counts.statements, transactions: counts.transactions };
      counts.statements = 0;
      counts.transactions = 0;
      return { ...trips, roundTrips: trips.statements + 2 * trips.transactions };
    },
  };
}

const backends: [string, () => Promise<Backend>][] = [
  ['pg', pgBackend],
  ['PGlite', pgliteBackend],
];

describe.each(backends)('postgres repository on %s', (name, open) => {
  let backend: Backend;
  let repo: SessionRepository;
  const q = <Row = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    backend.driver.query<Row>(text.replaceAll('$S', `"${backend.schema}"`), params);

  beforeAll(async () => {
    backend = await open();
  });
  afterAll(async () => {
    await backend?.close();
  });
  beforeEach(async () => {
    await emptySchema(backend.driver, backend.schema);
    repo = createPostgresRepository({ driver: backend.driver, schema: backend.schema });
  });

  async function seed(spec: Parameters<typeof buildChain>[0] = {}, into = repo): Promise<Chain> {
    const chain = buildChain(spec);
    expect(await into.create({ ...chain, now: chain.family.createdAt })).toEqual({
      type: 'created',
      evicted: [],
    });
    return chain;
  }

  describe('round trips', () => {
    it('rotates in exactly one statement, outside any transaction', async () => {
      const counted = counting(backend.driver);
      const counter = createPostgresRepository({ driver: counted.driver, schema: backend.schema });
      const chain = await seed({}, counter);
      counted.take();
      const result = await counter.rotate(rotation(chain, T0 + MINUTE));
      expect(result.type).toBe('rotated');
      expect(counted.take()).toEqual({ statements: 1, transactions: 0, roundTrips: 1 });
    });

    it('answers reads, touch, leases and an unlimited create in one statement each', async () => {
      const counted = counting(backend.driver);
      const counter = createPostgresRepository({ driver: counted.driver, schema: backend.schema });
      const chain = await seed({}, counter);
      expect(counted.take().roundTrips).toBe(1);
      const calls: (() => Promise<unknown>)[] = [
        () => counter.findByTokenHash(chain.token.hash, chain.family.id),
        () => counter.findSession(chain.session.id),
        () => counter.findFamily(chain.family.id),
        () => counter.listFamilies({ subject: 'alice', now: T0 }),
        () => counter.stats({ now: T0, since: T0 }),
        () => counter.touch({ sessionId: chain.session.id, idleExpiresAt: T0 + DAY, now: T0 }),
        () =>
          counter.acquireLease({ sessionId: chain.session.id, leaseId: id<LeaseId>(), ttlMs: 5000, now: T0 }),
        () => counter.releaseLease({ sessionId: chain.session.id, leaseId: id<LeaseId>() }),
        () => counter.deleteExpired({ now: T0, batchSize: 10, sealedBefore: T0 }),
      ];
      for (const call of calls) {
        await call();
        expect(counted.take().roundTrips).toBe(1);
      }
    });

    it('revokes and replaces in one transaction with a fixed number of statements', async () => {
      const counted = counting(backend.driver);
      const counter = createPostgresRepository({ driver: counted.driver, schema: backend.schema });
      const a = await seed({}, counter);
      const b = await seed({}, counter);
      counted.take();
      const next = replacement(a, T0 + MINUTE);
      await counter.replaceSession({
        oldSessionId: a.session.id,
        familyId: a.family.id,
        newSession: next.session,
        token: next.token,
        authContext: { authTime: T0 + MINUTE, amr: ['otp'] },
        now: T0 + MINUTE,
      });
      expect(counted.take()).toEqual({ statements: 2, transactions: 1, roundTrips: 4 });
      await counter.revokeSession({ sessionId: b.session.id, reason: 'logout', now: T0 + MINUTE });
      expect(counted.take()).toEqual({ statements: 2, transactions: 1, roundTrips: 4 });
      await counter.revokeFamily({ familyId: a.family.id, reason: 'admin', now: T0 + MINUTE });
      expect(counted.take()).toEqual({ statements: 3, transactions: 1, roundTrips: 5 });
      const limited = buildChain();
      await counter.create({ ...limited, limit: { max: 5, policy: 'evict_oldest' }, now: T0 });
      expect(counted.take()).toEqual({ statements: 2, transactions: 1, roundTrips: 4 });
    });
  });

  describe('revocation feed', () => {
    async function feedRows() {
      return q<{ id: string; session_id: string; family_id: string; subject: string; reason: string }>(
        'SELECT id, session_id, family_id, subject, reason FROM $S.revocations ORDER BY id',
      );
    }

    async function listening(): Promise<{ payloads: string[]; close: () => Promise<void> }> {
      const payloads: string[] = [];
      const listener = await backend.driver.listen(
        REVOCATION_CHANNEL,
        (payload) => payloads.push(payload),
        () => {},
      );
      return { payloads, close: () => listener.close() };
    }

    async function until(check: () => boolean): Promise<void> {
      for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    }

    it('publishes the channel name the feed relies on', () => {
      expect(REVOCATION_CHANNEL).toBe('sessionkit_revocations');
    });

    it('records every session a family revocation ends and notifies <schema>:<newest id>', async () => {
      const feed = await listening();
      try {
        const chain = await seed();
        const next = replacement(chain, T0 + MINUTE);
        await repo.replaceSession({
          oldSessionId: chain.session.id,
          familyId: chain.family.id,
          newSession: next.session,
          token: next.token,
          authContext: { authTime: T0 + MINUTE, amr: ['otp'] },
          now: T0 + MINUTE,
        });
        await repo.revokeFamily({ familyId: chain.family.id, reason: 'replay_detected', now: T0 + HOUR });
        const rows = await feedRows();
        expect(rows.map((row) => [row.session_id, row.reason])).toEqual([
          [chain.session.id, 'replaced'],
          [next.session.id, 'replay_detected'],
        ]);
        expect(rows.every((row) => row.family_id === chain.family.id && row.subject === 'alice')).toBe(true);
        await until(() => feed.payloads.length >= 2);
        expect(feed.payloads).toEqual(rows.map((row) => `${backend.schema}:${Number(row.id)}`));
      } finally {
        await feed.close();
      }
    });

    it('records session revocations and evictions, and nothing when nothing changed', async () => {
      const feed = await listening();
      try {
        const a = await seed({ at: T0 });
        const b = await seed({ at: T0 + MINUTE });
        await repo.revokeSession({ sessionId: b.session.id, reason: 'logout', now: T0 + MINUTE });
        await repo.revokeSession({ sessionId: b.session.id, reason: 'logout', now: T0 + MINUTE });
        await repo.revokeFamily({ familyId: b.family.id, reason: 'admin', now: T0 + MINUTE });
        const c = buildChain({ at: T0 + 2 * MINUTE });
        expect(
          await repo.create({ ...c, limit: { max: 1, policy: 'evict_oldest' }, now: T0 + 2 * MINUTE }),
        ).toEqual({
          type: 'created',
          evicted: [a.family.id],
        });
        await repo.revokeSubject({ subject: 'nobody', reason: 'admin', now: T0 + 3 * MINUTE });
        const rows = await feedRows();
        expect(rows.map((row) => [row.session_id, row.reason])).toEqual([
          [b.session.id, 'logout'],
          [a.session.id, 'evicted'],
        ]);
        await until(() => feed.payloads.length >= 2);
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(feed.payloads).toEqual(rows.map((row) => `${backend.schema}:${Number(row.id)}`));
      } finally {
        await feed.close();
      }
    });
  });

  describe('audit trail', () => {
    it('writes one row per change, with ids and token handles but never a hash or sealed successor', async () => {
      const chain = await seed();
      const input = rotation(chain, T0 + MINUTE);
      await repo.rotate(input);
      await repo.revokeFamily({ familyId: chain.family.id, reason: 'logout', now: T0 + HOUR });
      const events = await q<{ type: string; family_id: string; session_id: string | null; data: unknown }>(
        'SELECT type, family_id, session_id, data FROM $S.events ORDER BY id',
      );
      expect(events.map((event) => event.type)).toEqual([
        'family.created',
        'session.rotated',
        'family.revoked',
        'session.revoked',
      ]);
      expect(events[1]?.data).toMatchObject({ generation: 1 });
      expect(events.every((event) => event.family_id === chain.family.id)).toBe(true);
      const text = JSON.stringify(events);
      for (const secret of [chain.token.hash, input.successor.hash, input.sealedSuccessor]) {
        expect(text.includes(secret)).toBe(false);
      }
    });
  });

  describe('hostile input', () => {
    const hostile = [
      "'; DROP TABLE families;--",
      '*',
      '%',
      'x'.repeat(1_000_000),
      'a\u0000b',
      '\ud800',
      '',
      '0193A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2B',
      '{0193a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b}',
      '0193a1b2c3d47e5f8a6b7c8d9e0f1a2b',
    ];

    it('lookups, revocations and leases of hostile keys find nothing, fail nothing and change nothing', async () => {
      const chain = await seed();
      const before = await repo.findFamily(chain.family.id);
      for (const value of hostile) {
        const asId = value as FamilyId & SessionId & LeaseId;
        expect(await repo.findByTokenHash(value as TokenHash, value as FamilyId)).toBeNull();
        expect(await repo.findFamily(asId)).toBeNull();
        expect(await repo.findSession(asId)).toBeNull();
        expect(await repo.listFamilies({ subject: value, now: T0, includeInactive: true })).toEqual([]);
        expect(await repo.revokeFamily({ familyId: asId, reason: 'admin', now: T0 })).toEqual({
          families: [],
          sessions: [],
        });
        expect(await repo.revokeSession({ sessionId: asId, reason: 'admin', now: T0 })).toEqual({
          families: [],
          sessions: [],
        });
        expect(await repo.revokeSubject({ subject: value, reason: 'admin', now: T0 })).toEqual({
          families: [],
          sessions: [],
        });
        expect(await repo.touch({ sessionId: asId, idleExpiresAt: T0 + DAY, now: T0 })).toBe(false);
        expect(
          await repo.acquireLease({
            sessionId: asId,
            leaseId: chain.session.id as string as LeaseId,
            ttlMs: 1,
            now: T0,
          }),
        ).toEqual({
          type: 'unavailable',
        });
        await expect(
          repo.releaseLease({ sessionId: chain.session.id, leaseId: asId }),
        ).resolves.toBeUndefined();
        expect(
          await repo.rotate({ ...rotation(chain, T0 + MINUTE), expectedHash: value as TokenHash }),
        ).toEqual({
          type: 'conflict',
        });
        expect(await repo.rotate({ ...rotation(chain, T0 + MINUTE), sessionId: asId })).toEqual({
          type: 'conflict',
        });
      }
      expect(await repo.findFamily(chain.family.id)).toEqual(before);
      expect(await repo.findByTokenHash(chain.token.hash, chain.family.id)).toEqual(chain);
    });

    it('stores hostile subjects as plain text: they list only themselves', async () => {
      const injected = await seed({ subject: "'; DROP TABLE families;--" });
      const star = await seed({ subject: '*' });
      const percent = await seed({ subject: '%' });
      await seed({ subject: 'alice' });
      for (const chain of [injected, star, percent]) {
        const listed = await repo.listFamilies({ subject: chain.family.subject, now: T0 });
        expect(listed.map((entry) => entry.family.id)).toEqual([chain.family.id]);
      }
      expect((await repo.revokeSubject({ subject: '*', reason: 'admin', now: T0 })).families).toEqual([
        star.family.id,
      ]);
      expect(await repo.listFamilies({ subject: 'alice', now: T0 })).toHaveLength(1);
    });
  });

  describe('misuse and faults', () => {
    it('refuses a duplicate token hash with invalid_argument, naming no value', async () => {
      const chain = await seed();
      const twin = buildChain();
      const error = await repo
        .create({ ...twin, token: { ...twin.token, hash: chain.token.hash }, now: T0 })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'invalid_argument' });
      expect(String((error as Error).message)).not.toContain(chain.token.hash);
      expect(await repo.findFamily(twin.family.id)).toBeNull();
    });

    it('refuses records with malformed ids, and unknown revoke reasons', async () => {
      const chain = buildChain();
      await expect(
        repo.create({ ...chain, family: { ...chain.family, id: 'not-a-uuid' as FamilyId }, now: T0 }),
      ).rejects.toMatchObject({ code: 'invalid_argument' });
      // Postgres would store an upper-case UUID in lower case, so it would not read back equal.
      const upper = chain.session.id.toUpperCase() as SessionId;
      await expect(
        repo.create({ ...chain, session: { ...chain.session, id: upper }, now: T0 }),
      ).rejects.toMatchObject({
        code: 'invalid_argument',
      });
      expect(await repo.findFamily(chain.family.id)).toBeNull();
      await expect(
        repo.revokeFamily({ familyId: chain.family.id, reason: 'bored' as 'admin', now: T0 }),
      ).rejects.toMatchObject({ code: 'invalid_argument' });
    });

    it('rotating into an existing successor hash is misuse, and writes nothing', async () => {
      const chain = await seed();
      const other = await seed();
      const input = rotation(chain, T0 + MINUTE);
      const clash = { ...input, successor: { ...input.successor, hash: other.token.hash } };
      const error = await repo.rotate(clash).catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'invalid_argument' });
      expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain(other.token.hash);
      expect(await repo.findByTokenHash(chain.token.hash, chain.family.id)).toEqual(chain);
    });
  });

  describe('deleteExpired', () => {
    it('keeps its running total in the database, shared by every instance', async () => {
      const other = createPostgresRepository({ driver: backend.driver, schema: backend.schema });
      for (let i = 0; i < 3; i++) await seed({ idleExpiresAt: T0 + HOUR });
      const before = await other.stats({ now: T0 + DAY, since: T0 });
      expect(await repo.deleteExpired({ now: T0 + DAY, batchSize: 10, sealedBefore: T0 })).toEqual({
        deleted: 3,
      });
      const after = await other.stats({ now: T0 + DAY, since: T0 });
      expect(after.expiredDeleted - before.expiredDeleted).toBe(3);
      const audit = await q<{ data: { count: number } }>(
        "SELECT data FROM $S.events WHERE type = 'families.expired_deleted'",
      );
      expect(audit.map((row) => row.data)).toEqual([{ count: 3 }]);
    });

    it('clears a backlog of sealed successors larger than batchSize in one call', async () => {
      let chain = await seed();
      for (let step = 1; step <= 7; step++) {
        const input = rotation(chain, T0 + step * MINUTE);
        expect((await repo.rotate(input)).type).toBe('rotated');
        chain = { ...chain, token: input.successor };
      }
      expect(await repo.deleteExpired({ now: T0 + HOUR, batchSize: 2, sealedBefore: T0 + HOUR })).toEqual({
        deleted: 0,
      });
      const [row] = await q<{ n: number }>(
        'SELECT count(*)::int AS n FROM $S.refresh_tokens WHERE sealed_successor IS NOT NULL',
      );
      expect(row?.n).toBe(0);
    });

    it('prunes revocation feed rows older than 24 hours', async () => {
      const a = await seed();
      const b = await seed();
      await repo.revokeSession({ sessionId: a.session.id, reason: 'logout', now: T0 });
      await repo.revokeSession({ sessionId: b.session.id, reason: 'logout', now: T0 + 2 * HOUR });
      await repo.deleteExpired({ now: T0 + DAY + HOUR, batchSize: 10, sealedBefore: T0 });
      const rows = await q<{ session_id: string }>('SELECT session_id FROM $S.revocations');
      expect(rows.map((row) => row.session_id)).toEqual([b.session.id]);
    });
  });

  // PGlite runs one connection: true concurrency exists only on a server.
  if (name !== 'pg') return;

  describe('true concurrency', () => {
    it('parallel cleaners delete each dead family exactly once', async () => {
      const total = 40;
      for (let i = 0; i < total; i++) await seed({ idleExpiresAt: T0 + HOUR });
      const live = await seed();
      let deleted = 0;
      for (;;) {
        const batches = await Promise.all(
          Array.from({ length: 8 }, () =>
            repo.deleteExpired({ now: T0 + DAY, batchSize: 3, sealedBefore: T0 }),
          ),
        );
        const round = batches.reduce((sum, batch) => sum + batch.deleted, 0);
        deleted += round;
        if (round === 0) break;
      }
      expect(deleted).toBe(total);
      expect((await repo.stats({ now: T0, since: T0 })).expiredDeleted).toBe(total);
      expect(await repo.findByTokenHash(live.token.hash, live.family.id)).toEqual(live);
    });

    // Regression guard for the READ COMMITTED snapshot: a revocation that waited for a rotation
    // (or a replacement) must still revoke the successor token (or the new session) it committed.
    it('a family revocation racing rotations and replacements leaves no current token or active session', async () => {
      const others = [repo, createPostgresRepository({ driver: backend.driver, schema: backend.schema })];
      for (let round = 0; round < 25; round++) {
        const chain = await seed();
        const next = replacement(chain, T0 + MINUTE);
        await Promise.all([
          (others[round % 2] as SessionRepository).rotate(rotation(chain, T0 + MINUTE)),
          repo.replaceSession({
            oldSessionId: chain.session.id,
            familyId: chain.family.id,
            newSession: next.session,
            token: next.token,
            authContext: { authTime: T0, amr: ['otp'] },
            now: T0 + MINUTE,
          }),
          (others[(round + 1) % 2] as SessionRepository).revokeFamily({
            familyId: chain.family.id,
            reason: 'replay_detected',
            now: T0 + MINUTE,
          }),
        ]);
      }
      const [leftovers] = await q<{ tokens: number; sessions: number }>(`
        SELECT (SELECT count(*)::int FROM $S.refresh_tokens t JOIN $S.sessions s ON s.id = t.session_id
                 WHERE t.state = 'current' AND s.state <> 'active') AS tokens,
               (SELECT count(*)::int FROM $S.sessions s JOIN $S.families f ON f.id = s.family_id
                 WHERE s.state = 'active' AND f.state <> 'active') AS sessions`);
      expect(leftovers).toEqual({ tokens: 0, sessions: 0 });
    });
  });
});

describe('store faults', () => {
  const chain = buildChain();
  const calls = (repo: SessionRepository): [string, () => Promise<unknown>][] => [
    ['create', () => repo.create({ ...chain, now: T0 })],
    ['findByTokenHash', () => repo.findByTokenHash(chain.token.hash, chain.family.id)],
    ['rotate', () => repo.rotate(rotation(chain, T0 + MINUTE))],
    [
      'acquireLease',
      () => repo.acquireLease({ sessionId: chain.session.id, leaseId: id(), ttlMs: 1, now: T0 }),
    ],
    ['revokeFamily', () => repo.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 })],
    ['listFamilies', () => repo.listFamilies({ subject: 'alice', now: T0 })],
    ['deleteExpired', () => repo.deleteExpired({ now: T0, batchSize: 1, sealedBefore: T0 })],
    ['stats', () => repo.stats({ now: T0, since: T0 })],
  ];

  async function expectUnavailable(repo: SessionRepository): Promise<void> {
    for (const [name, call] of calls(repo)) {
      const error = await call().then(
        () => new Error(`${name} resolved`),
        (caught: unknown) => caught,
      );
      expect(error, name).toMatchObject({ code: 'store_unavailable', name: 'StoreUnavailableError' });
      const everything = JSON.stringify(error, Object.getOwnPropertyNames(error));
      const cause = JSON.stringify(
        (error as Error).cause,
        Object.getOwnPropertyNames((error as Error).cause ?? {}),
      );
      for (const text of [everything, cause]) expect(text.includes(chain.token.hash), name).toBe(false);
    }
  }

  it('an unreachable server is StoreUnavailableError from every method', async () => {
    const pool = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 1000 });
    try {
      await expectUnavailable(createPostgresRepository({ driver: createPgDriver({ pool }) }));
    } finally {
      await pool.end();
    }
  });

  it('a missing schema is StoreUnavailableError, and PGlite errors lose their parameters', async () => {
    const db = new PGlite();
    try {
      await expectUnavailable(
        createPostgresRepository({ driver: createPgliteDriver(db), schema: 'never_migrated' }),
      );
    } finally {
      await db.close();
    }
  });

  it('validates its options when created', () => {
    expect(() => createPostgresRepository({} as never)).toThrow(/driver/);
    const db = { query: async () => [], transaction: async () => undefined } as unknown as SqlDriver;
    expect(() => createPostgresRepository({ driver: db, schema: 'Bad-Name' })).toThrow(/schema/);
    expect(createPostgresRepository({ driver: db }).schema).toBe('sessionkit');
  });
});
