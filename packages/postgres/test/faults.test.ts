/**
 * Store faults against real Postgres, driven through the session kit: backends terminated in the
 * middle of a rotation and of a family revocation (the state is wholly before or wholly after,
 * the call fails with `store_unavailable`, a retry on a fresh connection goes on), a connection cut
 * after a rotation committed, a timed kill across 100 concurrent rotations checked by SQL over
 * every family, an unreachable or blackholed server and a statement stuck on a lock (typed errors
 * within a bound, no hang), and what a lost connection may never do: crash the process.
 */

import {
  createFakeClock,
  isSessionKitError,
  type SessionId,
  type SessionKit,
} from '@sessionkit/sessions-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPgDriver,
  createPgPool,
  createPostgresRepository,
  PG_POOL_DEFAULTS,
  type SqlDriver,
  type SqlExecutor,
} from '../src/index.js';
import {
  backendPid,
  beforeStatements,
  blockedBy,
  chainViolations,
  type Harness,
  isRotation,
  issueFor,
  openHarness,
  rejection,
  renewAsClient,
  renewedToken,
  sleep,
  snapshot,
  startCuttingProxy,
  startSilentServer,
  terminate,
  terminateAll,
  timed,
  unique,
} from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await openHarness('faults');
});

afterAll(async () => {
  await h?.close();
});

/** Sessions of a family, oldest first, with the family's state. */
function sessionsOf(familyId: string) {
  return h.q<{ family: string; id: string; state: string; generation: number }>(
    `SELECT f.state AS family, s.id, s.state, s.generation
       FROM $S.families f JOIN $S.sessions s ON s.family_id = f.id
      WHERE f.id = $1 ORDER BY s.created_at, s.id`,
    [familyId],
  );
}

/** The stored record of a refresh token. */
async function tokenRow(kit: SessionKit, token: string) {
  const [row] = await h.q<{ state: string; generation: number; successor_hash: string | null }>(
    'SELECT state, generation, successor_hash FROM $S.refresh_tokens WHERE hash = $1',
    [await kit.hashRefreshToken(token)],
  );
  return row;
}

describe('a rotation interrupted by a lost connection', () => {
  it('terminated mid-statement, it rolls back whole and the same token renews on retry', async () => {
    const driver = h.driver({ max: 1 });
    const kit = h.kit(driver);
    const issued = await issueFor(kit, 'alice');
    const token = issued.tokens.refreshToken;
    const pid = await backendPid(driver);
    const before = await snapshot(h);

    // Hold the token row: the rotation statement (after taking the lease and locking the session)
    // queues on it, in flight on the pool's only backend, which is then terminated.
    const locker = await h.lock('SELECT 1 FROM $S.refresh_tokens WHERE hash = $1 FOR UPDATE', [
      await kit.hashRefreshToken(token),
    ]);
    try {
      const renewal = rejection(kit.renew(token));
      expect(await blockedBy(h.admin, locker.pid)).toBe(pid);
      await terminate(h.admin, pid);
      expect(await renewal).toMatchObject({ code: 'store_unavailable', name: 'StoreUnavailableError' });
    } finally {
      await locker.release();
    }

    // Wholly before: not a row differs (the kit gave its lease back on a fresh connection).
    expect(await snapshot(h)).toEqual(before);
    expect(await chainViolations(h)).toEqual([]);

    const retried = await kit.renew(token);
    expect(retried).toMatchObject({ type: 'renewed', reused: false, familyId: issued.familyId });
    expect(await sessionsOf(issued.familyId)).toMatchObject([{ state: 'active', generation: 1 }]);
    expect(await kit.renew(renewedToken(retried))).toMatchObject({ type: 'renewed', reused: false });
    expect(await chainViolations(h)).toEqual([]);
  });

  it('cut after it committed, the retry of the same token gets the committed successor through grace', async () => {
    const proxy = await startCuttingProxy();
    try {
      const driver = h.driver({ connectionString: proxy.url, max: 1 });
      let cut: Promise<void> | undefined;
      const kit = h.kit(
        beforeStatements(driver, isRotation, async () => {
          cut ??= proxy.cutAfterNextQuery();
        }),
      );
      const issued = await issueFor(kit, 'bob');
      const token = issued.tokens.refreshToken;

      expect(await rejection(kit.renew(token))).toMatchObject({ code: 'store_unavailable' });
      await cut;

      // Wholly after: the token is rotated, the session moved on, its one current token is the
      // successor the lost answer carried.
      const old = await tokenRow(kit, token);
      expect(old).toMatchObject({ state: 'rotated', generation: 0 });
      expect(await sessionsOf(issued.familyId)).toMatchObject([{ state: 'active', generation: 1 }]);
      expect(await chainViolations(h)).toEqual([]);

      const retried = await kit.renew(token);
      expect(retried).toMatchObject({ type: 'renewed', reused: true });
      expect(await kit.hashRefreshToken(renewedToken(retried))).toBe(old?.successor_hash);
      expect(await kit.renew(renewedToken(retried))).toMatchObject({ type: 'renewed', reused: false });
      expect(await sessionsOf(issued.familyId)).toMatchObject([{ state: 'active', generation: 2 }]);
      expect(await chainViolations(h)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a timed kill across 100 concurrent rotations leaves each family wholly rotated or untouched', async () => {
    const families = 100;
    const setup = h.kit(h.driver({ max: 10 }));
    const issued = await Promise.all(
      Array.from({ length: families }, (_, i) => issueFor(setup, `timed-${i}`)),
    );

    const victim = unique('sk_victim');
    let rotations = 0;
    const kills: Promise<number>[] = [];
    const kit = h.kit(
      beforeStatements(h.driver({ max: 10, application_name: victim }), isRotation, async () => {
        rotations++;
        // Kill every backend of the pool while rotations are in flight, twice.
        if (rotations === 20 || rotations === 60) kills.push(terminateAll(h.admin, victim));
      }),
    );
    const outcomes = await Promise.allSettled(issued.map((each) => kit.renew(each.tokens.refreshToken)));
    expect((await Promise.all(kills)).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(0);

    const failed = outcomes.flatMap((outcome, i) => (outcome.status === 'rejected' ? [i] : []));
    expect(failed.length, 'the kills interrupted no renewal').toBeGreaterThan(0);
    for (const i of failed) {
      const reason = (outcomes[i] as PromiseRejectedResult).reason;
      expect(isSessionKitError(reason) && reason.code, String(reason)).toBe('store_unavailable');
    }
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled')
        expect(outcome.value).toMatchObject({ type: 'renewed', reused: false });
    }
    expect(await chainViolations(h)).toEqual([]);

    // A fresh pool: every killed call succeeds on retry — with the committed successor through
    // grace when its rotation committed before the connection died, with a new one otherwise.
    const fresh = h.kit(h.driver({ max: 10 }));
    const current = await Promise.all(
      issued.map(async (each, i) => {
        const outcome = outcomes[i] as PromiseSettledResult<Awaited<ReturnType<SessionKit['renew']>>>;
        if (outcome.status === 'fulfilled') {
          expect(await sessionsOf(each.familyId)).toMatchObject([{ generation: 1 }]);
          return renewedToken(outcome.value);
        }
        const [session] = await sessionsOf(each.familyId);
        const committed = session?.generation === 1;
        expect([0, 1]).toContain(session?.generation);
        const retried = await renewAsClient(fresh, each.tokens.refreshToken);
        expect(retried).toMatchObject({ type: 'renewed', reused: committed });
        return renewedToken(retried);
      }),
    );
    const finished = await Promise.all(current.map((token) => fresh.renew(token)));
    expect(finished.every((result) => result.type === 'renewed' && !result.reused)).toBe(true);
    const [counts] = await h.q<{ families: number; at_two: number; revoked: number }>(
      `SELECT count(*)::int AS families,
              count(*) FILTER (WHERE s.generation = 2)::int AS at_two,
              count(*) FILTER (WHERE f.state <> 'active')::int AS revoked
         FROM $S.families f JOIN $S.sessions s ON s.family_id = f.id
        WHERE f.subject LIKE 'timed-%'`,
    );
    expect(counts).toEqual({ families, at_two: families, revoked: 0 });
    expect(await chainViolations(h)).toEqual([]);
  });
});

/**
 * A driver whose first transaction loses its backend after `afterStatements` of its statements
 * (before COMMIT when that is all of them). `killed` says whether the kill happened.
 */
function killingFirstTransaction(inner: SqlDriver, afterStatements: number) {
  const state = { armed: true, killed: false, statements: 0 };
  const driver: SqlDriver = {
    ...inner,
    transaction(work) {
      if (!state.armed) return inner.transaction(work);
      state.armed = false;
      return inner.transaction(async (tx) => {
        const kill = async () => {
          await terminate(h.admin, await backendPid(tx));
          state.killed = true;
        };
        const result = await work({
          async query<Row>(text: string, params?: readonly unknown[]) {
            if (state.statements === afterStatements) await kill();
            const rows = await tx.query<Row>(text, params);
            state.statements++;
            return rows;
          },
        } satisfies SqlExecutor);
        if (state.statements === afterStatements) await kill();
        return result;
      });
    },
  };
  return { driver, state };
}

describe('a family revocation interrupted by a lost connection', () => {
  // revokeFamily is one transaction of three statements: families, their sessions, then the
  // sessions' tokens, leases, feed rows and audit rows.
  const points = [
    [1, 'after the families update'],
    [2, 'after the sessions update'],
    [3, 'right before COMMIT'],
  ] as const;
  const triggers = ['replay of a rotated token', 'kit.revoke of the family'] as const;
  const cases = points.flatMap(([after, label]) =>
    triggers.map((trigger) => [after, label, trigger] as const),
  );

  it.each(cases)(
    'killed %i statements in (%s), by %s: untouched, then wholly revoked on retry',
    async (after, _label, trigger) => {
      const clock = createFakeClock(Date.UTC(2026, 0, 1));
      const faulty = killingFirstTransaction(h.driver({ max: 2 }), after);
      const kit = h.kit(faulty.driver, { clock });
      const helper = h.kit(h.driver({ max: 2 }), { clock });

      // A family with history: a rotated token, a step-up (ended session), a rotated new session.
      const issued = await issueFor(helper, `revoked-${after}-${trigger}`);
      const first = issued.tokens.refreshToken;
      const second = renewedToken(await helper.renew(first));
      clock.advance(1_000);
      const elevated = await helper.elevate(issued.sessionId, { amr: ['pwd', 'otp'] });
      if (elevated.type !== 'elevated') throw new Error(`elevate: ${JSON.stringify(elevated)}`);
      const stepped = renewedToken(await helper.renew(elevated.tokens.refreshToken));
      const bystander = await issueFor(helper, `bystander-${after}-${trigger}`);
      clock.advance(10_000); // past the 5 s grace: `first` is now a replay
      const before = await snapshot(h);

      const revoke = () =>
        trigger === 'replay of a rotated token'
          ? kit.renew(first)
          : kit.revoke({ type: 'family', familyId: issued.familyId });
      expect(await rejection(revoke())).toMatchObject({ code: 'store_unavailable' });
      expect(faulty.state).toMatchObject({ killed: true, statements: after });

      // Wholly before: not a row differs, and the live token still works.
      expect(await snapshot(h)).toEqual(before);
      expect(await chainViolations(h)).toEqual([]);

      // The retry, on a fresh connection, revokes everything at once.
      const retried = await revoke();
      if (trigger === 'replay of a rotated token') {
        expect(retried).toEqual({ type: 'replay_detected', familyId: issued.familyId });
      } else {
        expect(retried).toEqual({ families: [issued.familyId], sessions: [elevated.sessionId] });
      }
      expect(await sessionsOf(issued.familyId)).toMatchObject([
        { family: 'revoked', id: issued.sessionId, state: 'ended', generation: 1 },
        { family: 'revoked', id: elevated.sessionId, state: 'revoked', generation: 1 },
      ]);
      const feed = await h.q<{ session_id: string; reason: string }>(
        'SELECT session_id, reason FROM $S.revocations WHERE family_id = $1 ORDER BY id',
        [issued.familyId],
      );
      expect(feed).toEqual([
        { session_id: issued.sessionId, reason: 'replaced' },
        {
          session_id: elevated.sessionId,
          reason: trigger === 'replay of a rotated token' ? 'replay_detected' : 'logout',
        },
      ]);
      const audits = await h.q<{ n: number }>(
        "SELECT count(*)::int AS n FROM $S.events WHERE family_id = $1 AND type = 'family.revoked'",
        [issued.familyId],
      );
      expect(audits).toEqual([{ n: 1 }]);
      for (const token of [second, stepped]) {
        expect(await kit.renew(token)).toMatchObject({ type: 'rejected', reason: 'revoked' });
      }
      expect(await kit.renew(bystander.tokens.refreshToken)).toMatchObject({
        type: 'renewed',
        reused: false,
      });
      expect(await chainViolations(h)).toEqual([]);
    },
  );
});

describe('an unreachable or stuck server', () => {
  const issuedNowhere = '01936b2e-8c4a-7d3e-9f10-123456789abc' as SessionId;
  /** A token that parses, so the kit has to ask the store. */
  const plausible = 'skr_01936b2e-8c4a-7d3e-9f10-123456789abc.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

  async function expectTypedWithin(ms: number, work: () => Promise<unknown>) {
    const { ms: took, outcome } = await timed(work);
    expect(outcome.status).toBe('rejected');
    const reason = (outcome as PromiseRejectedResult).reason;
    expect(reason).toMatchObject({ code: 'store_unavailable', name: 'StoreUnavailableError' });
    expect(took).toBeLessThan(ms);
  }

  it('a closed port is store_unavailable from the kit at once', async () => {
    const pool = createPgPool(pg, {
      host: '127.0.0.1',
      port: 1,
      user: 'postgres',
      connectionTimeoutMillis: 1_000,
    });
    try {
      const kit = h.kit(createPgDriver({ pool }));
      await expectTypedWithin(3_000, () => kit.renew(plausible));
      await expectTypedWithin(3_000, () => kit.issue({ subject: 'carol', clientId: 'web' }));
      await expectTypedWithin(3_000, () => kit.revoke({ type: 'subject', subject: 'carol' }));
    } finally {
      await pool.end();
    }
  });

  it('a non-routable address is store_unavailable within the connect timeout', async () => {
    const pool = createPgPool(pg, {
      host: '10.255.255.1',
      port: 5432,
      user: 'postgres',
      connectionTimeoutMillis: 500,
    });
    try {
      const kit = h.kit(createPgDriver({ pool }));
      await expectTypedWithin(3_000, () => kit.renew(plausible));
    } finally {
      await pool.end();
    }
  });

  it('a server that accepts but never answers is store_unavailable at the connect timeout', async () => {
    const silent = await startSilentServer();
    const pool = createPgPool(pg, {
      host: '127.0.0.1',
      port: silent.port,
      user: 'postgres',
      connectionTimeoutMillis: 500,
    });
    try {
      const kit = h.kit(createPgDriver({ pool }));
      const { ms } = await timed(() => kit.renew(plausible));
      expect(ms).toBeGreaterThanOrEqual(450); // it really waited for the timeout: a blackhole
      await expectTypedWithin(3_000, () => kit.renew(plausible));
      const repository = createPostgresRepository({ driver: createPgDriver({ pool }), schema: h.schema });
      await expectTypedWithin(3_000, () => repository.findSession(issuedNowhere));
    } finally {
      await pool.end();
      await silent.close();
    }
  });

  it('a partition after connecting is store_unavailable at the query timeout', async () => {
    const proxy = await startCuttingProxy();
    try {
      const kit = h.kit(h.driver({ connectionString: proxy.url, max: 1, query_timeout: 500 }));
      const issued = await issueFor(kit, 'frank');
      proxy.freeze();
      await expectTypedWithin(3_000, () => kit.renew(issued.tokens.refreshToken));
    } finally {
      await proxy.close();
    }
  });

  it('pools from createPgPool carry a bounded statement timeout to the server', async () => {
    expect(PG_POOL_DEFAULTS).toMatchObject({ connectionTimeoutMillis: 5_000, statement_timeout: 5_000 });
    const defaults = h.driver();
    expect(await defaults.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '5s' }]);
    const short = h.driver({ statement_timeout: 300 });
    expect(await short.query('SHOW statement_timeout')).toEqual([{ statement_timeout: '300ms' }]);
  });

  const stuck = [
    ['the session row (the lease statement waits)', 'SELECT 1 FROM $S.sessions WHERE id = $1 FOR UPDATE'],
    [
      'the token row (the rotation statement waits)',
      'SELECT 1 FROM $S.refresh_tokens WHERE session_id = $1 FOR UPDATE',
    ],
  ] as const;

  it.each(stuck)(
    'a renewal stuck on a lock of %s fails typed at the statement timeout',
    async (_what, sql) => {
      const kit = h.kit(h.driver({ max: 2, statement_timeout: 300 }));
      const issued = await issueFor(kit, 'dave');
      const before = await snapshot(h);
      const locker = await h.lock(sql, [issued.sessionId]);
      try {
        await expectTypedWithin(3_000, () => kit.renew(issued.tokens.refreshToken));
      } finally {
        await locker.release();
      }
      expect(await snapshot(h)).toEqual(before);
      expect(await kit.renew(issued.tokens.refreshToken)).toMatchObject({ type: 'renewed', reused: false });
      expect(await chainViolations(h)).toEqual([]);
    },
  );

  it('a family revocation stuck on a lock fails typed at the statement timeout and writes nothing', async () => {
    const kit = h.kit(h.driver({ max: 2, statement_timeout: 300 }));
    const issued = await issueFor(kit, 'erin');
    const before = await snapshot(h);
    const locker = await h.lock('SELECT 1 FROM $S.families WHERE id = $1 FOR UPDATE', [issued.familyId]);
    try {
      await expectTypedWithin(3_000, () => kit.revoke({ type: 'family', familyId: issued.familyId }));
    } finally {
      await locker.release();
    }
    expect(await snapshot(h)).toEqual(before);
    expect(await kit.revoke({ type: 'family', familyId: issued.familyId })).toEqual({
      families: [issued.familyId],
      sessions: [issued.sessionId],
    });
  });
});

describe('a lost connection never crashes the process', () => {
  /** Uncaught exceptions raised while `work` runs (and shortly after, while sockets close). */
  async function uncaughtDuring(work: () => Promise<void>): Promise<unknown[]> {
    const seen: unknown[] = [];
    const record = (error: unknown) => seen.push(error);
    process.on('uncaughtException', record);
    try {
      await work();
      await sleep(200);
    } finally {
      process.off('uncaughtException', record);
    }
    return seen;
  }

  // Regression: the pg driver left a checked-out transaction client without an `error` listener,
  // so a connection lost mid-transaction was an uncaught 'error' event.
  it('a transaction whose backend is terminated fails with store_unavailable, nothing uncaught', async () => {
    const pool = h.pool({ max: 1 });
    const driver = createPgDriver({ pool });
    let failure: unknown;
    const uncaught = await uncaughtDuring(async () => {
      failure = await rejection(
        driver.transaction(async (tx) => {
          await terminate(h.admin, await backendPid(tx));
          return tx.query('SELECT 1');
        }),
      );
    });
    expect(failure).toMatchObject({ code: 'store_unavailable' });
    expect(uncaught.map(String)).toEqual([]);
    expect(await driver.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  // Regression: createPgPool returned a pool without an `error` listener, so the server closing an
  // idle connection (restart, failover, idle timeout) was an uncaught 'error' event.
  it('an idle connection of a createPgPool pool terminated by the server is dropped, nothing uncaught', async () => {
    const pool = h.pool({ max: 1 });
    const driver = createPgDriver({ pool });
    const uncaught = await uncaughtDuring(async () => {
      await terminate(h.admin, await backendPid(driver));
    });
    expect(uncaught.map(String)).toEqual([]);
    expect(await driver.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
