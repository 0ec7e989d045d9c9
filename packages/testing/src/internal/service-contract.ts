/**
 * The service-level half of the conformance suite: the repository under test behind a real
 * `createSessionKit`, driven by a fake clock. It proves the lifecycle rules that depend on the
 * store end to end — renewal chains, replay revoking the family, idle and absolute expiry, every
 * revoke scope, N parallel renewals of one token (one kit, then two kits over two instances of one
 * backend), and that no raw token, secret or access token ever reaches the store.
 */

import {
  createSessionKit,
  generateSigningKey,
  type IssueResult,
  type RenewResult,
  type SessionKit,
  type SessionRepository,
  type SigningKey,
} from '@sessionkit/sessions-core';
import { describe, expect, it } from 'vitest';
import { DAY, fromBase64url, type Harness, inParallel, MINUTE, SECOND, sorted, T0 } from './fixtures.js';

/** The kit configuration every service-level test runs with. */
const KIT_CONFIG = {
  issuer: 'https://auth.test',
  audience: 'api',
  familyAbsoluteTtl: '30d',
  sessionIdleTtl: '7d',
  reuseGrace: '10s',
  leaseTtl: '5s',
  leaseWait: '2s',
};

type Issued = Extract<IssueResult, { type: 'issued' }>;
type Renewed = Extract<RenewResult, { type: 'renewed' }>;

/** Issues a family for `subject`, failing the test unless it is issued. */
async function issue(kit: SessionKit, subject = 'alice'): Promise<Issued> {
  const result = await kit.issue({ subject, clientId: 'conformance', client: { ip: '203.0.113.7' } });
  expect(result).toMatchObject({ type: 'issued' });
  if (result.type !== 'issued') throw new Error(`issue answered ${result.type}`);
  return result;
}

/** Renews `refreshToken`, failing the test unless it is renewed. */
async function renew(kit: SessionKit, refreshToken: string): Promise<Renewed> {
  const result = await kit.renew(refreshToken, { client: { ip: '203.0.113.7' } });
  expect(result).toMatchObject({ type: 'renewed' });
  if (result.type !== 'renewed') throw new Error(`renew answered ${result.type}`);
  return result;
}

/**
 * Checks the outcome of N parallel renewals of one token: every caller got `renewed` with one and
 * the same successor, or a retryable `renewal_in_progress`; exactly one caller actually rotated.
 * Returns the successor refresh token.
 */
function expectSingleSuccessor(results: readonly RenewResult[]): string {
  const unexpected = results.filter((r) => r.type !== 'renewed' && r.type !== 'renewal_in_progress');
  expect(unexpected, 'every racer gets renewed or renewal_in_progress').toEqual([]);
  const renewed = results.filter((r): r is Renewed => r.type === 'renewed');
  const successors = new Set(renewed.map((r) => r.tokens.refreshToken));
  expect(successors.size, 'exactly one distinct successor refresh token').toBe(1);
  expect(
    renewed.filter((r) => !r.reused),
    'exactly one racer rotated; the rest reused its result',
  ).toHaveLength(1);
  return [...successors][0] as string;
}

/** Hex of a token secret, a second encoding in which a careless store might keep it. */
function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Registers the service-level tests. `h` returns the harness of the running test.
 *
 * @example
 * ```ts
 * describeServiceContract(() => harness, { parallelism: 50, inspect: () => store.dump() });
 * ```
 */
export function describeServiceContract(
  h: () => Harness,
  options: { readonly parallelism: number; readonly inspect?: (() => unknown) | undefined },
): void {
  // One key for the whole suite: generating it per test would only slow the suite down.
  let signingKey: Promise<SigningKey> | undefined;
  const kitOver = async (repository: SessionRepository): Promise<SessionKit> => {
    signingKey ??= generateSigningKey();
    return createSessionKit({
      repository,
      signingKey: await signingKey,
      config: KIT_CONFIG,
      clock: h().clock,
    });
  };

  describe('renew', () => {
    it('renews along a chain: each renewal gives a new refresh token in the same family', async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const seen = new Set([issued.tokens.refreshToken]);
      let token = issued.tokens.refreshToken;
      for (let step = 0; step < 3; step++) {
        h().clock.advance(MINUTE);
        const renewed = await renew(kit, token);
        expect(renewed).toMatchObject({
          familyId: issued.familyId,
          sessionId: issued.sessionId,
          reused: false,
        });
        expect(seen.has(renewed.tokens.refreshToken)).toBe(false);
        seen.add(renewed.tokens.refreshToken);
        token = renewed.tokens.refreshToken;
      }
      expect((await kit.list('alice')).map((s) => s.familyId)).toEqual([issued.familyId]);
    });

    it('an immediate retry of a rotated token (within reuseGrace) gets the same successor', async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const first = await renew(kit, issued.tokens.refreshToken);
      h().clock.advance(5 * SECOND);
      const retry = await renew(kit, issued.tokens.refreshToken);
      expect(retry.reused).toBe(true);
      expect(retry.tokens.refreshToken).toBe(first.tokens.refreshToken);
      await renew(kit, first.tokens.refreshToken);
    });

    it('a rotated token replayed after reuseGrace revokes the family; the current token fails too', async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const current = await renew(kit, issued.tokens.refreshToken);
      h().clock.advance(11 * SECOND);
      expect(await kit.renew(issued.tokens.refreshToken)).toEqual({
        type: 'replay_detected',
        familyId: issued.familyId,
      });
      expect(await kit.renew(current.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
      expect(await kit.list('alice')).toEqual([]);
    });

    it('a session idle for longer than sessionIdleTtl expires; each renewal extends the idle deadline', async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      h().clock.advance(6 * DAY);
      const first = await renew(kit, issued.tokens.refreshToken);
      h().clock.advance(6 * DAY); // 12 days after issue: alive only because the renewal extended it.
      const second = await renew(kit, first.tokens.refreshToken);
      h().clock.advance(7 * DAY + MINUTE);
      expect(await kit.renew(second.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'expired' });
    });

    it('a family ends at familyAbsoluteTtl however often it is renewed', async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const familyEnd = T0 + 30 * DAY;
      let token = issued.tokens.refreshToken;
      for (const step of [5, 5, 5, 5, 5, 4]) {
        h().clock.advance(step * DAY);
        const renewed = await renew(kit, token);
        expect(renewed.tokens.familyExpiresAt).toBe(familyEnd);
        expect(renewed.tokens.refreshTokenExpiresAt).toBeLessThanOrEqual(familyEnd);
        token = renewed.tokens.refreshToken;
      }
      // Day 29 renewal: the idle deadline alone would reach day 36; the family ends at day 30.
      h().clock.advance(DAY);
      expect(await kit.renew(token)).toEqual({ type: 'rejected', reason: 'expired' });
    });
  });

  describe('revoke', () => {
    it("scope 'session' revokes one session; its token is rejected as revoked", async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const other = await issue(kit);
      const scope = { type: 'session', sessionId: issued.sessionId } as const;
      expect(await kit.revoke(scope)).toMatchObject({ sessions: [issued.sessionId] });
      expect(await kit.renew(issued.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
      expect(await kit.revoke(scope)).toEqual({ families: [], sessions: [] });
      await renew(kit, other.tokens.refreshToken);
    });

    it("scope 'family' revokes the family; its token is rejected as revoked", async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const other = await issue(kit);
      const scope = { type: 'family', familyId: issued.familyId } as const;
      expect(await kit.revoke(scope)).toEqual({ families: [issued.familyId], sessions: [issued.sessionId] });
      expect(await kit.renew(issued.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
      expect(await kit.revoke(scope)).toEqual({ families: [], sessions: [] });
      expect((await kit.list('alice')).map((s) => s.familyId)).toEqual([other.familyId]);
    });

    it("scope 'subject' revokes every family of the subject and nobody else's", async () => {
      const kit = await kitOver(h().repo);
      const mine = [await issue(kit), await issue(kit), await issue(kit)];
      const bob = await issue(kit, 'bob');
      const outcome = await kit.revoke({ type: 'subject', subject: 'alice' });
      expect(sorted(outcome.families)).toEqual(sorted(mine.map((i) => i.familyId)));
      expect(sorted(outcome.sessions)).toEqual(sorted(mine.map((i) => i.sessionId)));
      for (const issued of mine) {
        expect(await kit.renew(issued.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
      }
      expect(await kit.list('alice')).toEqual([]);
      await renew(kit, bob.tokens.refreshToken);
    });

    it("scope 'subject_except' revokes every other family of the subject and keeps the current one", async () => {
      const kit = await kitOver(h().repo);
      const [keep, ...others] = [await issue(kit), await issue(kit), await issue(kit)];
      if (keep === undefined) throw new Error('unreachable');
      const scope = { type: 'subject_except', subject: 'alice', exceptFamilyId: keep.familyId } as const;
      const outcome = await kit.revoke(scope);
      expect(sorted(outcome.families)).toEqual(sorted(others.map((i) => i.familyId)));
      for (const issued of others) {
        expect(await kit.renew(issued.tokens.refreshToken)).toEqual({ type: 'rejected', reason: 'revoked' });
      }
      expect((await kit.list('alice')).map((s) => s.familyId)).toEqual([keep.familyId]);
      await renew(kit, keep.tokens.refreshToken);
      expect(await kit.revoke(scope)).toEqual({ families: [], sessions: [] });
    });
  });

  describe('races', () => {
    it(`${options.parallelism} parallel renewals of one token yield exactly one successor, family intact`, async () => {
      const kit = await kitOver(h().repo);
      const issued = await issue(kit);
      const results = await inParallel(options.parallelism, () => kit.renew(issued.tokens.refreshToken));
      const successor = expectSingleSuccessor(results);
      expect((await kit.list('alice')).map((s) => s.familyId)).toEqual([issued.familyId]);
      await renew(kit, successor);
    });

    it(`${options.parallelism} parallel renewals through two kits over two instances yield one successor`, async () => {
      const kits = [await kitOver(h().repo), await kitOver(await h().another())];
      const issued = await issue(kits[0] as SessionKit);
      const results = await inParallel(options.parallelism, (i) =>
        (kits[i % 2] as SessionKit).renew(issued.tokens.refreshToken),
      );
      const successor = expectSingleSuccessor(results);
      expect((await (kits[1] as SessionKit).list('alice')).map((s) => s.familyId)).toEqual([issued.familyId]);
      await renew(kits[1] as SessionKit, successor);
    });
  });

  describe('storage', () => {
    const inspect = options.inspect;
    if (inspect === undefined) {
      it.skip('stores no raw refresh token, secret or access token (skipped: no `inspect` hook given)', () => {});
      return;
    }
    it('stores no raw refresh token, secret or access token', async () => {
      const kit = await kitOver(h().repo);
      const handedOut: string[] = [];
      const familyIds: string[] = [];
      for (const subject of ['alice', 'bob']) {
        const issued = await issue(kit, subject);
        familyIds.push(issued.familyId);
        handedOut.push(issued.tokens.refreshToken, issued.tokens.accessToken);
        let token = issued.tokens.refreshToken;
        for (let step = 0; step < 3; step++) {
          h().clock.advance(MINUTE);
          const renewed = await renew(kit, token);
          handedOut.push(renewed.tokens.refreshToken, renewed.tokens.accessToken);
          token = renewed.tokens.refreshToken;
        }
      }
      const refreshTokens = handedOut.filter((token) => token.startsWith('skr_'));
      expect(refreshTokens).toHaveLength(8);
      // Labelled, so a failure names what leaked without printing the material itself.
      const forbidden = handedOut.flatMap((token, index) => {
        if (!token.startsWith('skr_')) return [{ label: `access token #${index}`, value: token }];
        const secret = token.slice(token.indexOf('.') + 1);
        return [
          { label: `refresh token #${index}`, value: token },
          { label: `refresh token #${index} secret (base64url)`, value: secret },
          { label: `refresh token #${index} secret (hex)`, value: hex(fromBase64url(secret)) },
        ];
      });
      const dumped = await inspect();
      const text = typeof dumped === 'string' ? dumped : JSON.stringify(dumped);
      // The dump must really hold the store's rows, or the check below proves nothing.
      for (const familyId of familyIds) expect(text).toContain(familyId);
      const leaked = forbidden.filter(({ value }) => text.includes(value)).map(({ label }) => label);
      expect(leaked, 'raw token material found in the store').toEqual([]);
    });
  });
}
