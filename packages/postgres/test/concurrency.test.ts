/**
 * Renewal races through the session kit over real Postgres, from two kits on two separate pools
 * sharing one schema, as two app instances would: 200 renewals racing on the current tokens of 20
 * families (one rotation each, every other racer gets the same successor through grace), chains
 * of 10 renewals per family run side by side, and renewals racing a replay that revokes the
 * family. The token-chain invariants are then checked by SQL over every family.
 */

import type { RenewResult, SessionKit } from '@sessionkit/sessions-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainViolations, type Harness, issueFor, openHarness, renewedToken } from './support/harness.js';

const FAMILIES = 20;
const RACERS = 10;

let h: Harness;
/** Two app instances: each its own pool, driver, repository and kit, over one schema. */
let kits: readonly [SessionKit, SessionKit];

beforeAll(async () => {
  h = await openHarness('concurrency');
  kits = [h.kit(h.driver({ max: 10 })), h.kit(h.driver({ max: 10 }))];
});

afterAll(async () => {
  await h?.close();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const kit = (i: number) => kits[i % 2] as SessionKit;

/** Session generation, current-token count and family state of each family, by family id. */
async function families(ids: readonly string[]) {
  const rows = await h.q<{ family_id: string; state: string; generation: number; current: number }>(
    `SELECT f.id AS family_id, f.state, s.generation,
            (SELECT count(*)::int FROM $S.refresh_tokens t
              WHERE t.session_id = s.id AND t.state = 'current') AS current
       FROM $S.families f JOIN $S.sessions s ON s.family_id = f.id
      WHERE f.id = ANY($1::uuid[])`,
    [ids],
  );
  return new Map(rows.map((row) => [row.family_id, row]));
}

describe('renewals racing from two pools', () => {
  it('200 renewals of 20 current tokens: one rotation per family, the rest get the same successor', async () => {
    const issued = await Promise.all(range(FAMILIES).map((i) => issueFor(kit(i), `race-${i}`)));
    // Every family's 10 racers present its one current token, half through each instance,
    // all 200 in flight at once and interleaved across families.
    const racers = range(RACERS).flatMap((j) =>
      issued.map((family, i) => ({ i, kit: kit(i + j), token: family.tokens.refreshToken })),
    );
    const results = await Promise.all(racers.map((racer) => racer.kit.renew(racer.token)));

    const state = await families(issued.map((family) => family.familyId));
    for (const [i, family] of issued.entries()) {
      const mine = results.filter((_, k) => racers[k]?.i === i);
      expect(mine.map((result) => result.type)).toEqual(range(RACERS).map(() => 'renewed'));
      const renewed = mine as Extract<RenewResult, { type: 'renewed' }>[];
      expect(renewed.filter((result) => !result.reused)).toHaveLength(1);
      const successors = new Set(renewed.map((result) => result.tokens.refreshToken));
      expect(successors.size, `family ${i} forked`).toBe(1);
      expect(state.get(family.familyId)).toEqual({
        family_id: family.familyId,
        state: 'active',
        generation: 1,
        current: 1,
      });
      const [successor] = successors;
      const [current] = await h.q<{ hash: string }>(
        "SELECT hash FROM $S.refresh_tokens WHERE family_id = $1 AND state = 'current'",
        [family.familyId],
      );
      expect(current?.hash).toBe(await kits[0].hashRefreshToken(successor as string));
    }
    expect(await chainViolations(h)).toEqual([]);

    // Each successor works, from either instance.
    const winners = results.filter((result) => result.type === 'renewed' && !result.reused);
    const next = await Promise.all(winners.map((result, k) => kit(k + 1).renew(renewedToken(result))));
    expect(next.map((result) => result.type === 'renewed' && !result.reused)).toEqual(
      range(FAMILIES).map(() => true),
    );
    const after = await families(issued.map((family) => family.familyId));
    expect([...after.values()].every((row) => row.generation === 2 && row.current === 1)).toBe(true);
    expect(await chainViolations(h)).toEqual([]);
  });

  it('20 chains of 10 renewals side by side, alternating instances: generation 10 everywhere', async () => {
    const issued = await Promise.all(range(FAMILIES).map((i) => issueFor(kit(i), `chain-${i}`)));
    const outcomes = await Promise.all(
      issued.map(async (family, i) => {
        let token = family.tokens.refreshToken;
        const seen: string[] = [];
        for (let step = 0; step < 10; step++) {
          const result = await kit(i + step).renew(token);
          seen.push(result.type === 'renewed' ? `renewed${result.reused ? ' (reused)' : ''}` : result.type);
          token = renewedToken(result);
        }
        return seen;
      }),
    );
    for (const seen of outcomes) expect(seen).toEqual(range(10).map(() => 'renewed'));
    const state = await families(issued.map((family) => family.familyId));
    for (const family of issued) {
      expect(state.get(family.familyId)).toMatchObject({ state: 'active', generation: 10, current: 1 });
    }
    const [tokens] = await h.q<{ rotated: number; current: number }>(
      `SELECT count(*) FILTER (WHERE state = 'rotated')::int AS rotated,
              count(*) FILTER (WHERE state = 'current')::int AS current
         FROM $S.refresh_tokens WHERE family_id = ANY($1::uuid[])`,
      [issued.map((family) => family.familyId)],
    );
    expect(tokens).toEqual({ rotated: FAMILIES * 10, current: FAMILIES });
    expect(await chainViolations(h)).toEqual([]);
  });

  it('renewals racing a replay of an older token: the family ends revoked, with no live token left', async () => {
    // No grace: a rotated token presented again is a replay at once.
    const instances = [
      h.kit(h.driver({ max: 10 }), { config: { reuseGrace: 0 } }),
      h.kit(h.driver({ max: 10 }), { config: { reuseGrace: 0 } }),
    ];
    const strict = (i: number) => instances[i % 2] as SessionKit;
    const issued = await Promise.all(range(FAMILIES).map((i) => issueFor(kit(i), `replayed-${i}`)));
    const second = await Promise.all(issued.map((family, i) => strict(i).renew(family.tokens.refreshToken)));
    const racing = await Promise.all(
      issued.flatMap((family, i) => [
        strict(i).renew(family.tokens.refreshToken), // the replay
        ...range(5).map((j) => strict(i + j).renew(renewedToken(second[i] as RenewResult))),
      ]),
    );
    for (const result of racing) {
      expect(['renewed', 'rejected', 'replay_detected', 'renewal_in_progress']).toContain(result.type);
    }
    const state = await families(issued.map((family) => family.familyId));
    for (const family of issued) {
      expect(state.get(family.familyId)).toMatchObject({ state: 'revoked', current: 0 });
    }
    // Whatever a racer was handed before the revocation landed is dead now.
    for (const result of racing) {
      if (result.type !== 'renewed') continue;
      expect(await kits[0].renew(result.tokens.refreshToken)).toMatchObject({
        type: 'rejected',
        reason: 'revoked',
      });
    }
    expect(await chainViolations(h)).toEqual([]);
  });

  // The checks above are only as good as chainViolations: show it sees each kind of damage.
  it('the chain check catches a forked chain, a generation out of step and a live token in a revoked family', async () => {
    const [forked, skipped, orphaned] = await Promise.all(
      ['forked', 'skipped', 'orphaned'].map((subject) => issueFor(kits[0], subject)),
    );
    if (forked === undefined || skipped === undefined || orphaned === undefined)
      throw new Error('issue failed');
    expect(await chainViolations(h)).toEqual([]);
    await h.q(
      `INSERT INTO $S.refresh_tokens (hash, session_id, family_id, generation, issued_at, state)
       VALUES ('forged-hash', $1, $2, 0, 0, 'current')`,
      [forked.sessionId, forked.familyId],
    );
    await h.q('UPDATE $S.sessions SET generation = 3 WHERE id = $1', [skipped.sessionId]);
    await h.q("UPDATE $S.families SET state = 'revoked' WHERE id = $1", [orphaned.familyId]);
    try {
      const problems = (await chainViolations(h)).join('\n');
      expect(problems).toContain(`session ${forked.sessionId} (active, family active) has 2 current tokens`);
      expect(problems).toContain(
        `session ${skipped.sessionId} is at generation 3 but its current token at 0`,
      );
      expect(problems).toContain(`session ${skipped.sessionId} at generation 3 has 0 session.rotated events`);
      expect(problems).toContain(`session ${orphaned.sessionId} is active in revoked family`);
      expect(problems).toContain(
        `session ${orphaned.sessionId} (active, family revoked) has 1 current tokens`,
      );
    } finally {
      await h.q('DELETE FROM $S.families WHERE id = ANY($1::uuid[])', [
        [forked.familyId, skipped.familyId, orphaned.familyId],
      ]);
    }
    expect(await chainViolations(h)).toEqual([]);
  });
});
