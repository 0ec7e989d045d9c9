/**
 * What reaches the disk: a full lifecycle through the kit over real Postgres (issue, renew, grace
 * reuse, replay revoking a family, step-up, revocations, cleanup), then every row of every table
 * of the schema dumped as text. No refresh token issued during the run (whole, its secret, the
 * secret's bytes in hex or base64) and no access token (whole or its signature) may appear
 * anywhere; the audit and feed tables hold no token hash either.
 */

import { createFakeClock, type TokenSet } from '@sessionkit/sessions-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, issueFor, openHarness, renewedToken } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await openHarness('storage');
});

afterAll(async () => {
  await h?.close();
});

/** Every row of every table of the schema, as `t::text` and as jsonb text, by table. */
async function dumpEveryTable(): Promise<Map<string, string>> {
  const tables = await h.q<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
      WHERE table_schema = $1 ORDER BY table_name`,
    [h.schema],
  );
  const dump = new Map<string, string>();
  for (const { name } of tables) {
    const rows = await h.q<{ row: string; json: string }>(
      `SELECT t::text AS row, to_jsonb(t)::text AS json FROM $S."${name}" t`,
    );
    dump.set(name, rows.map((row) => `${row.row}\n${row.json}`).join('\n'));
  }
  return dump;
}

/** The forms a refresh token could leak in: whole, its secret, the secret's bytes as hex and base64. */
function refreshNeedles(token: string): string[] {
  const secret = token.slice(token.indexOf('.') + 1);
  const bytes = Buffer.from(secret, 'base64url');
  expect(bytes).toHaveLength(32);
  return [token, secret, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, '')];
}

/** An access token whole, and its signature (unique per token). */
function accessNeedles(token: string): string[] {
  const signature = token.split('.')[2] ?? '';
  expect(signature.length).toBeGreaterThan(40);
  return [token, signature];
}

describe('storage after a full lifecycle', () => {
  it('holds no refresh or access token issued during the run, in any table', async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1));
    const kit = h.kit(h.driver({ max: 4 }), { clock, config: { sessionIdleTtl: '1h' } });
    const issuedSets: TokenSet[] = [];
    const keep = <T extends { tokens: TokenSet }>(result: T): T => {
      issuedSets.push(result.tokens);
      return result;
    };
    const renew = async (token: string) => {
      const result = await kit.renew(token);
      if (result.type === 'renewed') issuedSets.push(result.tokens);
      return result;
    };

    // Five families: alice (renewed, then replayed), bob (grace reuse, step-up), carol (left idle),
    // dave (revoked by subject), erin (one session revoked).
    const alice = keep(await issueFor(kit, 'alice'));
    const bob = keep(await issueFor(kit, 'bob'));
    const carol = keep(await issueFor(kit, 'carol'));
    const dave = keep(await issueFor(kit, 'dave'));
    const erin = keep(await issueFor(kit, 'erin'));

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

    expect(await kit.revoke({ type: 'subject', subject: 'dave' })).toMatchObject({
      families: [dave.familyId],
    });
    expect(await kit.revoke({ type: 'session', sessionId: erin.sessionId })).toMatchObject({
      sessions: [erin.sessionId],
    });
    expect(await renew(erin.tokens.refreshToken)).toMatchObject({ type: 'rejected', reason: 'revoked' });

    const everything = issuedSets.flatMap((set) => [
      ...refreshNeedles(set.refreshToken),
      ...accessNeedles(set.accessToken),
    ]);
    // 5 issued + alice×2 + bob + bob's grace reuse + step-up + its renewal.
    expect(issuedSets).toHaveLength(11);
    const hashes = await Promise.all(issuedSets.map((set) => kit.hashRefreshToken(set.refreshToken)));

    const expectClean = async (moment: string) => {
      const dump = await dumpEveryTable();
      expect([...dump.keys()], moment).toEqual(
        expect.arrayContaining(['events', 'families', 'refresh_tokens', 'revocations', 'sessions']),
      );
      for (const [table, text] of dump) {
        const lower = text.toLowerCase();
        for (const needle of everything) {
          expect(lower.includes(needle.toLowerCase()), `${moment}: ${table} holds token material`).toBe(
            false,
          );
        }
        if (table === 'events' || table === 'revocations') {
          for (const hash of hashes)
            expect(text.includes(hash), `${moment}: ${table} holds a hash`).toBe(false);
        }
      }
      return dump;
    };

    const full = await expectClean('before cleanup');
    // The dump is not vacuous: it holds the hashes of stored tokens, the sealed successors, the
    // audit trail and the revocation feed.
    expect(full.get('refresh_tokens')).toContain(await kit.hashRefreshToken(bobStepped));
    expect(full.get('refresh_tokens')).toContain(await kit.hashRefreshToken(alice.tokens.refreshToken));
    expect(full.get('refresh_tokens')).toMatch(/"sealed_successor": "[A-Za-z0-9_.-]{40,}"/);
    expect(full.get('events')).toContain('session.rotated');
    expect(full.get('revocations')).toContain('replay_detected');

    clock.advance(45 * 60_000); // carol, dave and erin have been idle for over an hour
    expect((await kit.deleteExpired()).deleted).toBe(3);
    const cleaned = await expectClean('after cleanup');
    expect(cleaned.get('families')).not.toContain(carol.familyId);
    expect(cleaned.get('families')).toContain(bob.familyId);
    expect(cleaned.get('events')).toContain('families.expired_deleted');
    expect(cleaned.get('counters')).toContain('expired_deleted');
  });
});
