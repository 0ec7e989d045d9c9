/**
 * The revocation feed against the local Postgres: delivery, catch-up on start, reconnect after the
 * LISTEN backend is killed (re-reading what was revoked meanwhile), schema isolation, commit-order
 * gaps, single-flight reads, clean shutdown, one delivery over embedded PGlite, and end to end: a
 * kit on the Postgres repository revokes, the subscriber fills a verifier's denylist, the verifier
 * refuses the access token.
 */

import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import {
  createSessionKit,
  cryptoRandom,
  generateSigningKey,
  isSessionKitError,
  type RevokeReason,
  systemClock,
  uuidv7,
} from '@sessionkit/sessions-core';
import { createAccessTokenVerifier, createMemoryDenylist } from '@sessionkit/sessions-core/verify';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SqlDriver } from '../src/driver.js';
import {
  createPgDriver,
  createPgliteDriver,
  createPostgresRepository,
  createRevocationSubscriber,
  type FeedRevocation,
  migrate,
  publishRevocations,
  type RevocationInput,
  type RevocationSubscriber,
  type RevocationSubscriberOptions,
} from '../src/index.js';
import { DATABASE_URL, dropSchema, freshSchema, migrateOrExplain } from './support/database.js';

const SCHEMA = freshSchema('feed');
const OTHER_SCHEMA = `${SCHEMA}_other`;
const LIFETIME_MS = 5 * 60_000 + 30_000;

// idleTimeoutMillis 0: idle clients hold no timers, so a test can count the timers a subscriber leaves.
const adminPool = new pg.Pool({ connectionString: DATABASE_URL, max: 4, idleTimeoutMillis: 0 });
const admin = createPgDriver({ pool: adminPool });

/** Per-test resources, released in afterEach even when an assertion failed. */
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await migrateOrExplain(admin, SCHEMA);
  await migrateOrExplain(admin, OTHER_SCHEMA);
});

afterEach(async () => {
  // Bounded, so a subscriber that fails to give its connection back fails its test instead of hanging.
  const bounded = (work: Promise<unknown>) =>
    Promise.race([work, new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
  for (let cleanup = cleanups.pop(); cleanup !== undefined; cleanup = cleanups.pop()) {
    await bounded(cleanup().catch(() => undefined));
  }
});

afterAll(async () => {
  await dropSchema(admin, SCHEMA);
  await dropSchema(admin, OTHER_SCHEMA);
  await adminPool.end();
});

function id(): string {
  return uuidv7(systemClock, cryptoRandom);
}

function revocation(overrides: Partial<RevocationInput> = {}): RevocationInput {
  return {
    sessionId: id(),
    familyId: id(),
    subject: 'user-1',
    reason: 'logout' satisfies RevokeReason,
    revokedAt: Date.now(),
    ...overrides,
  };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A pool of its own, tagged so a test can find (and kill) exactly its LISTEN backend. */
function subscriberPool(): { pool: pg.Pool; driver: SqlDriver; applicationName: string } {
  const applicationName = `sk_feed_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    application_name: applicationName,
    max: 4,
    idleTimeoutMillis: 0,
  });
  // Killing the LISTEN backend can also surface on an idle pooled client; a test must not crash on it.
  pool.on('error', () => undefined);
  cleanups.push(() => pool.end());
  return { pool, driver: createPgDriver({ pool }), applicationName };
}

/** Counts statements against the revocations table and the most that ran at once. */
function instrumented(
  driver: SqlDriver,
): SqlDriver & { reads: number; maxConcurrentReads: number; listens: number } {
  let inFlight = 0;
  const wrapped = {
    ...driver,
    reads: 0,
    maxConcurrentReads: 0,
    listens: 0,
    listen(...args: Parameters<SqlDriver['listen']>) {
      wrapped.listens++;
      return driver.listen(...args);
    },
    async query<Row>(text: string, params?: readonly unknown[]) {
      if (!text.includes('.revocations')) return driver.query<Row>(text, params);
      wrapped.reads++;
      inFlight++;
      wrapped.maxConcurrentReads = Math.max(wrapped.maxConcurrentReads, inFlight);
      try {
        return await driver.query<Row>(text, params);
      } finally {
        inFlight--;
      }
    },
  };
  return wrapped;
}

interface Harness {
  subscriber: RevocationSubscriber;
  denylist: ReturnType<typeof createMemoryDenylist>;
  applied: FeedRevocation[];
  errors: Error[];
}

function subscribe(
  driver: SqlDriver,
  options: Partial<Omit<RevocationSubscriberOptions, 'driver'>> = {},
): Harness {
  const denylist = createMemoryDenylist();
  const applied: FeedRevocation[] = [];
  const errors: Error[] = [];
  const subscriber = createRevocationSubscriber({
    driver,
    schema: SCHEMA,
    denylist,
    tokenLifetimeMs: LIFETIME_MS,
    onError: (error) => errors.push(error),
    onRevoked: (entry) => applied.push(entry),
    ...options,
  });
  cleanups.push(() => subscriber.stop());
  return { subscriber, denylist, applied, errors };
}

describe('publishRevocations', () => {
  it('inserts the rows and returns the newest id', async () => {
    const entries = [revocation(), revocation({ reason: 'admin' })];
    const result = await publishRevocations(admin, { schema: SCHEMA, revocations: entries });
    expect(result.count).toBe(2);
    const rows = await adminPool.query(
      `SELECT id, session_id, reason, revoked_at FROM "${SCHEMA}".revocations WHERE session_id = ANY($1) ORDER BY id`,
      [entries.map((entry) => entry.sessionId)],
    );
    expect(rows.rows.map((row) => row.session_id)).toEqual(entries.map((entry) => entry.sessionId));
    expect(Number(rows.rows[1].id)).toBe(result.lastId);
    expect(Number(rows.rows[0].revoked_at)).toBe(entries[0]?.revokedAt);
  });

  it('refuses malformed entries without echoing their values, and writes nothing', async () => {
    const before = await adminPool.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".revocations`);
    const bad = revocation({ sessionId: 'not-a-session-id' });
    const error = await publishRevocations(admin, { schema: SCHEMA, revocations: [revocation(), bad] }).catch(
      (caught: unknown) => caught,
    );
    expect(isSessionKitError(error) && error.code).toBe('invalid_argument');
    expect((error as Error).message).toContain('revocations[1].sessionId');
    expect((error as Error).message).not.toContain('not-a-session-id');
    await expect(
      publishRevocations(admin, {
        schema: SCHEMA,
        revocations: [revocation({ reason: 'bored' as RevokeReason })],
      }),
    ).rejects.toThrow(/reason/);
    const after = await adminPool.query(`SELECT count(*)::int AS n FROM "${SCHEMA}".revocations`);
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('publishes nothing for an empty list', async () => {
    const counted = instrumented(admin);
    await expect(publishRevocations(counted, { schema: SCHEMA, revocations: [] })).resolves.toEqual({
      count: 0,
      lastId: undefined,
    });
    expect(counted.reads).toBe(0);
  });
});

describe('createRevocationSubscriber', () => {
  it('delivers a published revocation to the denylist until revokedAt + tokenLifetimeMs', async () => {
    const { driver } = subscriberPool();
    const { subscriber, denylist, applied, errors } = subscribe(driver);
    await subscriber.start();
    await subscriber.ready;
    expect(subscriber.connected).toBe(true);

    const entry = revocation({ revokedAt: Date.now() - 1_000 });
    const { lastId } = await publishRevocations(admin, { schema: SCHEMA, revocations: [entry] });
    await waitFor(() => denylist.isRevoked(entry.sessionId) === true, 'the revoked sid');

    const delivered = applied.find((item) => item.sessionId === entry.sessionId);
    expect(delivered).toMatchObject({
      id: lastId,
      familyId: entry.familyId,
      subject: entry.subject,
      reason: 'logout',
      revokedAt: entry.revokedAt,
      until: entry.revokedAt + LIFETIME_MS,
    });
    expect(subscriber.lastId).toBe(lastId);
    expect(errors).toEqual([]);
  });

  it('loads revocations still within the token lifetime on start, and not older ones', async () => {
    const now = Date.now();
    const recent = revocation({ revokedAt: now - LIFETIME_MS + 60_000 });
    const old = revocation({ revokedAt: now - LIFETIME_MS - 60_000 });
    // Published before the subscriber exists: nobody hears these notifications.
    const { lastId } = await publishRevocations(admin, { schema: SCHEMA, revocations: [recent, old] });

    const { driver } = subscriberPool();
    const { subscriber, denylist, applied } = subscribe(driver);
    await subscriber.start();
    await subscriber.ready;

    expect(denylist.isRevoked(recent.sessionId)).toBe(true);
    expect(denylist.isRevoked(old.sessionId)).toBe(false);
    expect(applied.map((item) => item.sessionId)).not.toContain(old.sessionId);
    expect(subscriber.lastId).toBeGreaterThanOrEqual(lastId ?? Number.POSITIVE_INFINITY);
  });

  it('listens before it reads: a revocation committed right after the first read still arrives', async () => {
    const { driver } = subscriberPool();
    const late = revocation();
    let published: Promise<unknown> | undefined;
    // Publishes the moment the subscriber's first catch-up page has been read: had it not been
    // listening already, nothing would tell it about this row until some later revocation.
    const racing: SqlDriver = {
      ...driver,
      async query<Row>(text: string, params?: readonly unknown[]) {
        const rows = await driver.query<Row>(text, params);
        if (published === undefined && text.includes('WHERE id > $1')) {
          published = publishRevocations(admin, { schema: SCHEMA, revocations: [late] });
          await published;
        }
        return rows;
      },
    };
    const { subscriber, denylist } = subscribe(racing);
    await subscriber.start();
    expect(published).toBeDefined();
    await waitFor(() => denylist.isRevoked(late.sessionId) === true, 'the revocation made after the read');
  });

  it('reconnects after its LISTEN backend is killed and re-reads what was revoked meanwhile', async () => {
    const { driver, applicationName } = subscriberPool();
    const { subscriber, denylist, errors } = subscribe(driver, { reconnectDelayMs: 500 });
    await subscriber.start();
    await subscriber.ready;

    const killed = await adminPool.query(
      `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
       WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
      [applicationName],
    );
    expect(killed.rows).toEqual([{ done: true }]);
    await waitFor(() => !subscriber.connected, 'the subscriber to notice the lost connection');

    // Revoked while nobody listens: only the re-read after reconnecting can deliver these.
    const missed = [revocation(), revocation(), revocation()];
    await publishRevocations(admin, { schema: SCHEMA, revocations: missed.slice(0, 2) });
    await publishRevocations(admin, { schema: SCHEMA, revocations: missed.slice(2) });
    expect(subscriber.connected).toBe(false);
    expect(missed.some((entry) => denylist.isRevoked(entry.sessionId))).toBe(false);

    await waitFor(() => subscriber.connected, 'the subscriber to reconnect');
    await waitFor(
      () => missed.every((entry) => denylist.isRevoked(entry.sessionId) === true),
      'the revocations made while disconnected',
    );

    const later = revocation();
    await publishRevocations(admin, { schema: SCHEMA, revocations: [later] });
    await waitFor(() => denylist.isRevoked(later.sessionId) === true, 'a notification after reconnecting');

    expect(errors.map((error) => error.message)).toEqual([
      expect.stringMatching(/^revocation feed: listen connection lost; reconnecting in \d+ ms$/),
    ]);
    for (const error of errors) {
      for (const entry of missed) expect(error.message).not.toContain(entry.sessionId);
    }
  });

  it('delivers a row whose transaction commits after a row with a higher id', async () => {
    const { driver } = subscriberPool();
    const { subscriber, denylist } = subscribe(driver);
    await subscriber.start();
    await subscriber.ready;

    const slow = revocation();
    const client = await adminPool.connect();
    try {
      await client.query('BEGIN');
      const held = await client.query(
        `INSERT INTO "${SCHEMA}".revocations (session_id, family_id, subject, reason, revoked_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id`,
        [slow.sessionId, slow.familyId, slow.subject, slow.reason, slow.revokedAt],
      );
      const fast = revocation();
      await publishRevocations(admin, { schema: SCHEMA, revocations: [fast] });
      await waitFor(() => denylist.isRevoked(fast.sessionId) === true, 'the later id');
      expect(subscriber.lastId).toBeGreaterThan(Number(held.rows[0].id));

      await client.query('SELECT pg_notify($1, $2)', [
        'sessionkit_revocations',
        `${SCHEMA}:${held.rows[0].id}`,
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await waitFor(() => denylist.isRevoked(slow.sessionId) === true, 'the id committed late');
  });

  it('ignores notifications for other schemas', async () => {
    const { driver } = subscriberPool();
    const counted = instrumented(driver);
    const { subscriber, denylist } = subscribe(counted);
    await subscriber.start();
    await subscriber.ready;
    const readsAfterStart = counted.reads;

    const elsewhere = revocation();
    await publishRevocations(admin, { schema: OTHER_SCHEMA, revocations: [elsewhere] });
    await adminPool.query('SELECT pg_notify($1, $2)', ['sessionkit_revocations', `${OTHER_SCHEMA}x:1`]);
    await adminPool.query('SELECT pg_notify($1, $2)', ['sessionkit_revocations', 'garbage']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(counted.reads).toBe(readsAfterStart);

    // A marker in our schema proves notifications were flowing while the others were ignored.
    const marker = revocation();
    await publishRevocations(admin, { schema: SCHEMA, revocations: [marker] });
    await waitFor(() => denylist.isRevoked(marker.sessionId) === true, 'the marker');
    expect(denylist.isRevoked(elsewhere.sessionId)).toBe(false);
  });

  it('reads one batch at a time however many notifications arrive', async () => {
    const { driver } = subscriberPool();
    const counted = instrumented(driver);
    const { subscriber, denylist } = subscribe(counted);
    await subscriber.start();
    await subscriber.ready;

    const entries = Array.from({ length: 30 }, () => revocation());
    await Promise.all(
      entries.map((entry) => publishRevocations(admin, { schema: SCHEMA, revocations: [entry] })),
    );
    await waitFor(() => entries.every((entry) => denylist.isRevoked(entry.sessionId) === true), 'all 30');
    expect(counted.maxConcurrentReads).toBe(1);
  });

  it('reports a denylist that throws and keeps going, without the session id in the message', async () => {
    const { driver } = subscriberPool();
    const poison = revocation();
    const fine = revocation();
    const seen: string[] = [];
    const errors: Error[] = [];
    const subscriber = createRevocationSubscriber({
      driver,
      schema: SCHEMA,
      tokenLifetimeMs: LIFETIME_MS,
      denylist: {
        revoke(sid) {
          if (sid === poison.sessionId) throw new Error('denylist full');
          seen.push(sid);
        },
      },
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => subscriber.stop());
    await subscriber.start();
    await publishRevocations(admin, { schema: SCHEMA, revocations: [poison, fine] });
    await waitFor(() => seen.includes(fine.sessionId), 'the entry after the refused one');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe('revocation feed: the denylist refused an entry; it was skipped');
  });

  it('survives an unreachable store: start resolves, errors are reported, stop ends the retries', async () => {
    const pool = new pg.Pool({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      connectionTimeoutMillis: 500,
    });
    cleanups.push(() => pool.end());
    const counted = instrumented(createPgDriver({ pool }));
    const { subscriber, errors } = subscribe(counted, { reconnectDelayMs: 20, maxReconnectDelayMs: 40 });
    let readySettled: 'pending' | 'resolved' | 'rejected' = 'pending';
    subscriber.ready.then(
      () => {
        readySettled = 'resolved';
      },
      () => {
        readySettled = 'rejected';
      },
    );

    await subscriber.start();
    expect(subscriber.connected).toBe(false);
    await waitFor(() => errors.length >= 3, 'a few reconnect attempts');
    expect(errors[0]?.message).toMatch(
      /^revocation feed: cannot listen for revocations; reconnecting in \d+ ms$/,
    );
    expect(errors.every((error) => isSessionKitError(error) && error.code === 'store_unavailable')).toBe(
      true,
    );

    await subscriber.stop();
    const reported = errors.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(errors.length).toBe(reported);
    expect(readySettled).toBe('rejected');
    await expect(subscriber.start()).rejects.toThrow(/stopped/);
  });

  it('stop() while waiting to reconnect cancels the timer and returns the connection', async () => {
    const { pool, driver, applicationName } = subscriberPool();
    const counted = instrumented(driver);
    const { subscriber } = subscribe(counted, { reconnectDelayMs: 300 });
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    await subscriber.start();
    await subscriber.ready;
    const timersWhileConnected = timers();

    await adminPool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
      [applicationName],
    );
    await waitFor(() => !subscriber.connected, 'the lost connection');
    expect(timers()).toBe(timersWhileConnected + 1);
    await subscriber.stop();
    // The reconnect timer is gone at once, not merely harmless when it fires.
    expect(timers()).toBe(timersWhileConnected);
    const { reads, listens } = counted;
    await new Promise((resolve) => setTimeout(resolve, 500));

    expect({ reads: counted.reads, listens: counted.listens }).toEqual({ reads, listens });
    expect(subscriber.connected).toBe(false);
    expect(pool.totalCount - pool.idleCount).toBe(0);
  });

  it('stop() on a live subscriber closes its LISTEN connection', async () => {
    const { pool, driver, applicationName } = subscriberPool();
    const { subscriber } = subscribe(driver);
    await subscriber.start();
    await subscriber.ready;
    await subscriber.stop();
    await subscriber.stop();
    expect(pool.totalCount - pool.idleCount).toBe(0);
    const listening = await adminPool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`,
      [applicationName],
    );
    expect(listening.rows[0].n).toBe(0);
  });

  it('validates its options when created', () => {
    const { driver } = subscriberPool();
    const denylist = createMemoryDenylist();
    expect(() => createRevocationSubscriber({ driver, denylist, tokenLifetimeMs: 0 })).toThrow(
      /tokenLifetimeMs/,
    );
    expect(() =>
      createRevocationSubscriber({ driver, denylist, tokenLifetimeMs: 1_000, schema: 'Bad-Name' }),
    ).toThrow(/schema/);
    expect(() =>
      createRevocationSubscriber({ driver, denylist: {} as never, tokenLifetimeMs: 1_000 }),
    ).toThrow(/denylist/);
  });
});

describe('createRevocationSubscriber on PGlite', () => {
  // Embedded Postgres boots in seconds, slower on a loaded machine.
  it('delivers a revocation in-process', { timeout: 60_000 }, async () => {
    const db = new PGlite();
    cleanups.push(() => db.close());
    const driver = createPgliteDriver(db);
    await migrate(driver, { schema: SCHEMA });
    const { subscriber, denylist, errors } = subscribe(driver);
    await subscriber.start();
    await subscriber.ready;

    const entry = revocation();
    await publishRevocations(driver, { schema: SCHEMA, revocations: [entry] });
    await waitFor(() => denylist.isRevoked(entry.sessionId) === true, 'the revoked sid on PGlite');
    expect(errors).toEqual([]);
  });
});

describe('end to end with the Postgres repository', () => {
  it('a family the kit revokes reaches the denylist and the verifier refuses its access token', async () => {
    const issuer = 'https://auth.example.com';
    const audience = 'api';
    const kit = createSessionKit({
      repository: createPostgresRepository({ driver: admin, schema: SCHEMA }),
      signingKey: await generateSigningKey(),
      config: { issuer, audience, familyAbsoluteTtl: '30d' },
    });
    const issued = await kit.issue({ subject: 'alice', clientId: 'web' });
    if (issued.type !== 'issued') throw new Error(`issue was refused: ${issued.reason}`);

    const { driver } = subscriberPool();
    const { subscriber, denylist, applied, errors } = subscribe(driver, {
      tokenLifetimeMs: issued.tokens.expiresIn * 1_000 + 30_000,
    });
    await subscriber.start();
    await subscriber.ready;
    const verifier = createAccessTokenVerifier({ issuer, audience, jwks: kit.jwks(), revocations: denylist });
    // Verified once first, so the refusal below also proves a cached verification is re-checked.
    expect(await verifier.verify(issued.tokens.accessToken)).toMatchObject({ ok: true });

    const outcome = await kit.revoke({ type: 'family', familyId: issued.familyId, reason: 'logout' });
    expect(outcome.sessions).toEqual([issued.sessionId]);
    await waitFor(() => denylist.isRevoked(issued.sessionId) === true, 'the revoked session in the denylist');

    expect(await verifier.verify(issued.tokens.accessToken)).toMatchObject({
      ok: false,
      error: { code: 'revoked' },
    });
    expect(applied.find((entry) => entry.sessionId === issued.sessionId)).toMatchObject({
      familyId: issued.familyId,
      subject: 'alice',
      reason: 'logout',
    });
    expect(errors).toEqual([]);
  });
});
