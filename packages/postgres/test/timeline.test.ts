/**
 * The audit timeline against the local Postgres (and once over PGlite): events of a family or a
 * session come back in order as typed objects, paging works, malformed ids cost no query, and the
 * events a real kit on the Postgres repository writes for issue → renew → revoke hold token handles
 * only — never the refresh token, its secret or its hash.
 */

import { PGlite } from '@electric-sql/pglite';
import {
  createRefreshTokenHasher,
  createSessionKit,
  cryptoRandom,
  generateSigningKey,
  systemClock,
  tokenHandle,
  uuidv7,
} from '@sessionkit/sessions-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgDriver,
  createPgliteDriver,
  createPostgresRepository,
  migrate,
  readTimeline,
  type SqlDriver,
} from '../src/index.js';
import { DATABASE_URL, dropSchema, freshSchema, migrateOrExplain } from './support/database.js';

const SCHEMA = freshSchema('timeline');
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
const driver = createPgDriver({ pool });

beforeAll(async () => {
  await migrateOrExplain(driver, SCHEMA);
});

afterAll(async () => {
  await dropSchema(driver, SCHEMA);
  await pool.end();
});

const id = (): string => uuidv7(systemClock, cryptoRandom);

interface EventSeed {
  at: number;
  type: string;
  familyId?: string;
  sessionId?: string;
  subject?: string;
  data?: Record<string, unknown>;
}

/** Writes audit rows the way the repository does, one statement per row so ids follow the seed order. */
async function seed(target: SqlDriver, events: readonly EventSeed[], schema = SCHEMA): Promise<void> {
  for (const event of events) {
    await target.query(
      `INSERT INTO "${schema}".events (at, type, family_id, session_id, subject, data)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
      [
        event.at,
        event.type,
        event.familyId ?? null,
        event.sessionId ?? null,
        event.subject ?? null,
        JSON.stringify(event.data ?? {}),
      ],
    );
  }
}

/** Counts statements, to prove a malformed id never reaches the database. */
function counting(inner: SqlDriver): SqlDriver & { statements: number } {
  const counted = {
    ...inner,
    statements: 0,
    query<Row>(text: string, params?: readonly unknown[]) {
      counted.statements++;
      return inner.query<Row>(text, params);
    },
  };
  return counted;
}

describe('readTimeline', () => {
  const family = id();
  const first = id();
  const second = id();
  const otherFamily = id();
  const t = Date.UTC(2026, 0, 1);

  beforeAll(async () => {
    await seed(driver, [
      {
        at: t,
        type: 'family.created',
        familyId: family,
        sessionId: first,
        subject: 'alice',
        data: { token: 'rt_a' },
      },
      { at: t + 1, type: 'family.created', familyId: otherFamily, sessionId: id(), subject: 'bob' },
      {
        at: t + 2,
        type: 'session.rotated',
        familyId: family,
        sessionId: first,
        subject: 'alice',
        data: { generation: 1, token: 'rt_a', successor: 'rt_b' },
      },
      {
        at: t + 3,
        type: 'session.replaced',
        familyId: family,
        sessionId: second,
        subject: 'alice',
        data: { previousSessionId: first, token: 'rt_c' },
      },
      { at: t + 4, type: 'family.revoked', familyId: otherFamily, subject: 'bob', data: { reason: 'admin' } },
      { at: t + 5, type: 'family.revoked', familyId: family, subject: 'alice', data: { reason: 'logout' } },
      {
        at: t + 5,
        type: 'session.revoked',
        familyId: family,
        sessionId: second,
        subject: 'alice',
        data: { reason: 'logout' },
      },
    ]);
  });

  it("returns a family's events in order, as typed objects", async () => {
    const events = await readTimeline(driver, { schema: SCHEMA, familyId: family });
    expect(events.map((event) => [event.type, event.at])).toEqual([
      ['family.created', t],
      ['session.rotated', t + 2],
      ['session.replaced', t + 3],
      ['family.revoked', t + 5],
      ['session.revoked', t + 5],
    ]);
    expect(events[1]).toEqual({
      id: expect.any(Number),
      at: t + 2,
      type: 'session.rotated',
      familyId: family,
      sessionId: first,
      subject: 'alice',
      data: { generation: 1, token: 'rt_a', successor: 'rt_b' },
    });
    // A family-level event has no session: the key is absent, not undefined or null.
    expect(events[3]).not.toHaveProperty('sessionId');
    const ids = events.map((event) => event.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it("returns one session's events, and narrows by both ids together", async () => {
    const ofFirst = await readTimeline(driver, { schema: SCHEMA, sessionId: first });
    expect(ofFirst.map((event) => event.type)).toEqual(['family.created', 'session.rotated']);
    const ofSecond = await readTimeline(driver, { schema: SCHEMA, familyId: family, sessionId: second });
    expect(ofSecond.map((event) => event.type)).toEqual(['session.replaced', 'session.revoked']);
    expect(await readTimeline(driver, { schema: SCHEMA, familyId: otherFamily, sessionId: second })).toEqual(
      [],
    );
  });

  it('pages with limit and afterId', async () => {
    const all = await readTimeline(driver, { schema: SCHEMA, familyId: family });
    const page1 = await readTimeline(driver, { schema: SCHEMA, familyId: family, limit: 2 });
    const page2 = await readTimeline(driver, {
      schema: SCHEMA,
      familyId: family,
      limit: 2,
      afterId: page1.at(-1)?.id ?? 0,
    });
    const page3 = await readTimeline(driver, {
      schema: SCHEMA,
      familyId: family,
      limit: 2,
      afterId: page2.at(-1)?.id ?? 0,
    });
    expect([...page1, ...page2, ...page3]).toEqual(all);
    expect(page3).toHaveLength(1);
  });

  it('answers [] for a malformed id without querying', async () => {
    const counted = counting(driver);
    for (const bad of ['', 'nope', `${family}x`, "' OR 1=1 --", family.toUpperCase(), crypto.randomUUID()]) {
      expect(await readTimeline(counted, { schema: SCHEMA, familyId: bad })).toEqual([]);
      expect(await readTimeline(counted, { schema: SCHEMA, sessionId: bad })).toEqual([]);
      expect(await readTimeline(counted, { schema: SCHEMA, familyId: family, sessionId: bad })).toEqual([]);
    }
    expect(counted.statements).toBe(0);
  });

  it('refuses misuse: no id at all, a bad limit or cursor, a bad schema name', async () => {
    await expect(readTimeline(driver, { schema: SCHEMA })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(readTimeline(driver, { schema: SCHEMA, familyId: family, limit: 0 })).rejects.toThrow(
      /limit/,
    );
    await expect(readTimeline(driver, { schema: SCHEMA, familyId: family, limit: 1_001 })).rejects.toThrow(
      /limit/,
    );
    await expect(readTimeline(driver, { schema: SCHEMA, familyId: family, afterId: -1 })).rejects.toThrow(
      /afterId/,
    );
    await expect(readTimeline(driver, { schema: 'no; drop', familyId: family })).rejects.toMatchObject({
      code: 'invalid_config',
    });
  });

  // Embedded Postgres boots in seconds, slower on a loaded machine.
  it('reads the same over PGlite', { timeout: 60_000 }, async () => {
    const db = new PGlite();
    try {
      const embedded = createPgliteDriver(db);
      await migrate(embedded, { schema: SCHEMA });
      const session = id();
      await seed(embedded, [
        {
          at: t,
          type: 'family.created',
          familyId: family,
          sessionId: session,
          subject: 'alice',
          data: { token: 'rt_a' },
        },
        {
          at: t + 9,
          type: 'session.revoked',
          familyId: family,
          sessionId: session,
          data: { reason: 'logout' },
        },
      ]);
      expect(await readTimeline(embedded, { schema: SCHEMA, sessionId: session })).toEqual([
        {
          id: 1,
          at: t,
          type: 'family.created',
          familyId: family,
          sessionId: session,
          subject: 'alice',
          data: { token: 'rt_a' },
        },
        {
          id: 2,
          at: t + 9,
          type: 'session.revoked',
          familyId: family,
          sessionId: session,
          data: { reason: 'logout' },
        },
      ]);
    } finally {
      await db.close();
    }
  });
});

describe('readTimeline over events the Postgres repository wrote', () => {
  it('shows issue → renew → revoke of a family, with token handles and never a token or a hash', async () => {
    const kit = createSessionKit({
      repository: createPostgresRepository({ driver, schema: SCHEMA }),
      signingKey: await generateSigningKey(),
      config: { issuer: 'https://auth.example.com', audience: 'api', familyAbsoluteTtl: '30d' },
    });
    const issued = await kit.issue({ subject: 'carol', clientId: 'web' });
    if (issued.type !== 'issued') throw new Error(`issue was refused: ${issued.reason}`);
    const renewed = await kit.renew(issued.tokens.refreshToken);
    if (renewed.type !== 'renewed') throw new Error(`renew failed: ${renewed.type}`);
    await kit.revoke({ type: 'family', familyId: issued.familyId, reason: 'logout' });

    const events = await readTimeline(driver, { schema: SCHEMA, familyId: issued.familyId });
    expect(events.map((event) => event.type)).toEqual([
      'family.created',
      'session.rotated',
      'family.revoked',
      'session.revoked',
    ]);
    expect(events.every((event) => event.familyId === issued.familyId && event.subject === 'carol')).toBe(
      true,
    );

    const hasher = createRefreshTokenHasher();
    const firstHash = await hasher.hash(issued.tokens.refreshToken);
    const secondHash = await hasher.hash(renewed.tokens.refreshToken);
    expect(events[0]?.data).toEqual({ token: tokenHandle(firstHash) });
    expect(events[1]).toMatchObject({
      sessionId: issued.sessionId,
      data: { token: tokenHandle(firstHash), successor: tokenHandle(secondHash) },
    });

    // Every stored column of every row of this family, as text.
    const rows = await pool.query<{ row: string }>(
      `SELECT to_jsonb(e)::text AS row FROM "${SCHEMA}".events e WHERE family_id = $1`,
      [issued.familyId],
    );
    expect(rows.rows).toHaveLength(events.length);
    const secret = (token: string) => token.slice(token.indexOf('.') + 1);
    for (const { row } of rows.rows) {
      for (const token of [issued.tokens.refreshToken, renewed.tokens.refreshToken]) {
        expect(row).not.toContain(token);
        expect(row).not.toContain(secret(token));
      }
      expect(row).not.toContain(firstHash);
      expect(row).not.toContain(secondHash);
    }
  });
});
