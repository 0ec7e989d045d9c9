/**
 * The repository-level half of the conformance suite: raw `SessionRepository` calls with
 * hand-built records, one nested `describe` per contract method, each rule of the TSDoc in
 * `repository.ts` as at least one test that fails when the rule is broken — including the races
 * (`Promise.all` over one instance, and over two instances sharing one backend).
 */

import type {
  FamilyId,
  LeaseId,
  RenewCurrentInput,
  RotateInput,
  SessionId,
  SessionRepository,
} from '@sessionkit/sessions-core';
import { describe, expect, it } from 'vitest';
import {
  buildChain,
  type Chain,
  count,
  DAY,
  type Harness,
  HOUR,
  IDLE_TTL,
  inParallel,
  LEASE_TTL,
  MINUTE,
  newHash,
  newId,
  replaceChain,
  replacement,
  rotateChain,
  rotation,
  SECOND,
  seed,
  sorted,
  T0,
} from './fixtures.js';

/** Ids of the families a repository lists for `subject` at `now`. */
async function listedIds(
  repo: SessionRepository,
  subject: string,
  now: number,
  includeInactive = false,
): Promise<FamilyId[]> {
  const families = await repo.listFamilies({ subject, now, includeInactive });
  return families.map((entry) => entry.family.id);
}

/** The stored view of a chain's token, session and family; compared before and after a refused call. */
async function snapshot(repo: SessionRepository, chain: Chain): Promise<unknown> {
  return {
    token: await repo.findByTokenHash(chain.token.hash, chain.family.id),
    session: await repo.findSession(chain.session.id),
  };
}

/** Sorts chains as `listFamilies` must: `createdAt`, then id. */
function oldestFirst(chains: readonly Chain[]): FamilyId[] {
  return [...chains]
    .sort((a, b) => a.family.createdAt - b.family.createdAt || (a.family.id < b.family.id ? -1 : 1))
    .map((chain) => chain.family.id);
}

/**
 * Registers the repository-level tests. `h` returns the harness of the running test.
 *
 * @example
 * ```ts
 * describeRepositoryContract(() => harness, 50);
 * ```
 */
export function describeRepositoryContract(h: () => Harness, parallelism: number): void {
  describe('create', () => {
    it('stores the family, its first session and its token together', async () => {
      const { repo } = h();
      const chain = await seed(h());
      expect(await repo.findByTokenHash(chain.token.hash, chain.family.id)).toEqual(chain);
      expect(await repo.findSession(chain.session.id)).toEqual({
        session: chain.session,
        family: chain.family,
      });
      expect(await repo.listFamilies({ subject: 'alice', now: T0 })).toEqual([
        { family: chain.family, sessions: [chain.session] },
      ]);
    });

    it('creates below the limit without evicting anything', async () => {
      await seed(h());
      const chain = buildChain(h());
      const result = await h().repo.create({ ...chain, limit: { max: 2, policy: 'evict_oldest' }, now: T0 });
      expect(result).toEqual({ type: 'created', evicted: [] });
    });

    it("'reject' at the limit returns limit_reached and writes nothing", async () => {
      const { repo } = h();
      const existing = [await seed(h()), await seed(h())];
      const extra = buildChain(h());
      const result = await repo.create({ ...extra, limit: { max: 2, policy: 'reject' }, now: T0 });
      expect(result).toEqual({ type: 'limit_reached' });
      expect(await repo.findByTokenHash(extra.token.hash, extra.family.id)).toBeNull();
      expect(await repo.findSession(extra.session.id)).toBeNull();
      expect(sorted(await listedIds(repo, 'alice', T0, true))).toEqual(
        sorted(existing.map((c) => c.family.id)),
      );
    });

    it('does not count a family whose sessions are all revoked, ended or idle toward the limit', async () => {
      const { repo } = h();
      const loggedOut = await seed(h());
      await repo.revokeSession({ sessionId: loggedOut.session.id, reason: 'logout', now: T0 });
      await seed(h(), { idleExpiresAt: T0 });
      const chain = buildChain(h());
      const result = await repo.create({ ...chain, limit: { max: 1, policy: 'reject' }, now: T0 });
      expect(result).toEqual({ type: 'created', evicted: [] });
      expect(await listedIds(repo, 'alice', T0)).toEqual([chain.family.id]);
    });

    it('counts only live families (active, absoluteExpiresAt > now) toward the limit', async () => {
      const { repo } = h();
      await seed(h(), { familyState: 'revoked' });
      await seed(h(), { at: T0 - DAY, absoluteExpiresAt: T0, idleExpiresAt: T0 });
      await seed(h(), { subject: 'bob' });
      const chain = buildChain(h());
      const result = await repo.create({ ...chain, limit: { max: 1, policy: 'reject' }, now: T0 });
      expect(result).toEqual({ type: 'created', evicted: [] });
    });

    it("'evict_oldest' revokes the oldest families (reason evicted), just enough to keep max live", async () => {
      const { repo } = h();
      const [a, b, c] = [
        await seed(h(), { at: T0 }),
        await seed(h(), { at: T0 + MINUTE }),
        await seed(h(), { at: T0 + 2 * MINUTE }),
      ];
      const now = T0 + 3 * MINUTE;
      const d = buildChain(h(), { at: now });
      const result = await repo.create({ ...d, limit: { max: 2, policy: 'evict_oldest' }, now });
      expect(result.type).toBe('created');
      if (result.type !== 'created') return;
      expect(sorted(result.evicted)).toEqual(sorted([a.family.id, b.family.id]));
      for (const evicted of [a, b]) {
        const lookup = await repo.findByTokenHash(evicted.token.hash, evicted.family.id);
        expect(lookup?.family).toMatchObject({ state: 'revoked', revokeReason: 'evicted' });
        expect(lookup?.session.state).toBe('revoked');
        expect(lookup?.token.state).toBe('revoked');
      }
      expect(await listedIds(repo, 'alice', now)).toEqual([c?.family.id, d.family.id]);
    });

    it("'evict_oldest' breaks createdAt ties by id", async () => {
      const { repo } = h();
      const pair = [buildChain(h(), { at: T0 }), buildChain(h(), { at: T0 })];
      const [first] = oldestFirst(pair);
      // Insert the younger id first, so insertion order cannot stand in for the id order.
      for (const chain of [...pair].sort((x, y) => (x.family.id < y.family.id ? 1 : -1))) {
        expect(await repo.create({ ...chain, now: T0 })).toEqual({ type: 'created', evicted: [] });
      }
      const next = buildChain(h(), { at: T0 });
      const result = await repo.create({ ...next, limit: { max: 2, policy: 'evict_oldest' }, now: T0 });
      expect(result).toEqual({ type: 'created', evicted: [first] });
      expect(await listedIds(repo, 'alice', T0)).toEqual(
        oldestFirst([...pair, next]).filter((id) => id !== first),
      );
    });

    it("'evict_idle' revokes the families least recently seen (latest lastSeenAt of their sessions)", async () => {
      const { repo } = h();
      // a is the oldest family, but its replacement session was seen most recently.
      const a = await replaceChain(h(), await seed(h(), { at: T0 }), T0 + 5 * HOUR);
      const b = await seed(h(), { at: T0 + HOUR });
      const c = await seed(h(), { at: T0 + 2 * HOUR, lastSeenAt: T0 + 3 * HOUR });
      const now = T0 + 6 * HOUR;
      const d = buildChain(h(), { at: now });
      const result = await repo.create({ ...d, limit: { max: 2, policy: 'evict_idle' }, now });
      expect(result.type).toBe('created');
      if (result.type !== 'created') return;
      expect(sorted(result.evicted)).toEqual(sorted([b.family.id, c.family.id]));
      expect(await listedIds(repo, 'alice', now)).toEqual([a.family.id, d.family.id]);
      const evicted = await repo.findSession(b.session.id);
      expect(evicted?.family).toMatchObject({ state: 'revoked', revokeReason: 'evicted' });
    });

    it("concurrent creates with 'reject' never exceed the limit", async () => {
      const { repo } = h();
      const chains = Array.from({ length: parallelism }, () => buildChain(h()));
      const results = await inParallel(parallelism, (i) =>
        repo.create({ ...(chains[i] as Chain), limit: { max: 3, policy: 'reject' }, now: T0 }),
      );
      expect(count(results, (r) => r.type === 'created')).toBe(3);
      expect(await listedIds(repo, 'alice', T0)).toHaveLength(3);
    });

    it("concurrent creates with 'evict_oldest' leave exactly max live families, each evicted once", async () => {
      const { repo } = h();
      const chains = Array.from({ length: parallelism }, () => buildChain(h()));
      const results = await inParallel(parallelism, (i) =>
        repo.create({ ...(chains[i] as Chain), limit: { max: 3, policy: 'evict_oldest' }, now: T0 }),
      );
      const evicted = results.flatMap((r) => (r.type === 'created' ? r.evicted : []));
      expect(count(results, (r) => r.type === 'created')).toBe(parallelism);
      expect(new Set(evicted).size).toBe(evicted.length);
      expect(evicted).toHaveLength(parallelism - 3);
      expect(await listedIds(repo, 'alice', T0)).toHaveLength(3);
    });
  });

  describe("stored records are the store's own", () => {
    it('mutating what was passed to create, or what a find returned, changes nothing stored', async () => {
      const { repo } = h();
      const chain = buildChain(h());
      const pristine = structuredClone(chain);
      await repo.create({ ...chain, now: T0 });
      // Mutate the caller's objects after the write…
      (chain.family.authContext.amr as string[]).push('tampered');
      (chain.session as { generation: number }).generation = 99;
      (chain.token as { state: string }).state = 'revoked';
      // …and whatever came back from a read (a frozen result may refuse, which is fine too).
      const found = await repo.findByTokenHash(chain.token.hash, chain.family.id);
      try {
        (found?.family.grant as { clientId: string }).clientId = 'tampered';
        (found?.session as { state: string }).state = 'revoked';
      } catch {
        // Read-only results are an acceptable way to honour the rule.
      }
      expect(await repo.findByTokenHash(chain.token.hash, chain.family.id)).toEqual({
        token: pristine.token,
        session: pristine.session,
        family: pristine.family,
      });
    });
  });

  describe('findByTokenHash', () => {
    it('returns null for an unknown hash', async () => {
      await seed(h());
      expect(await h().repo.findByTokenHash(newHash(h()), newId<FamilyId>(h()))).toBeNull();
    });

    it('returns a rotated record with its successor hash, sealed successor and the moved session', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const input = rotation(h(), chain, T0 + MINUTE);
      expect((await repo.rotate(input)).type).toBe('rotated');
      const lookup = await repo.findByTokenHash(chain.token.hash, chain.family.id);
      expect(lookup?.token).toEqual({
        ...chain.token,
        state: 'rotated',
        rotatedAt: T0 + MINUTE,
        successorHash: input.successor.hash,
        sealedSuccessor: input.sealedSuccessor,
      });
      expect(lookup?.session.generation).toBe(1);
    });
  });

  describe('findByTokenHash routing', () => {
    it('returns null when the record belongs to another family than the one named', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const other = await seed(h());
      expect(await repo.findByTokenHash(chain.token.hash, other.family.id)).toBeNull();
      expect(await repo.findByTokenHash(chain.token.hash, newId<FamilyId>(h()))).toBeNull();
    });
  });

  describe('renewCurrent (optional)', () => {
    /** The input that renews `chain`'s token in one step at `at`. */
    const oneStep = (chain: Chain, at: number, overrides: Partial<RenewCurrentInput> = {}) => ({
      hash: chain.token.hash,
      familyId: chain.family.id,
      successorHash: newHash(h()),
      sealedSuccessor: `sealed-${newHash(h())}`,
      idleTtlMs: IDLE_TTL,
      now: at,
      ...overrides,
    });
    /** The method, or undefined after checking that it is really absent (a repository may omit it). */
    const renewCurrent = (repo = h().repo) => {
      if (repo.renewCurrent === undefined) {
        expect('renewCurrent' in repo ? repo.renewCurrent : undefined).toBeUndefined();
        return undefined;
      }
      return repo.renewCurrent.bind(repo);
    };

    it('rotates a current token in one call and returns the state it found', async () => {
      const { repo } = h();
      const call = renewCurrent();
      if (call === undefined) return;
      const chain = await seed(h());
      const at = T0 + HOUR;
      const input = oneStep(chain, at, { lastIp: '198.51.100.9' });
      const result = await call(input);
      const moved = {
        ...chain.session,
        generation: 1,
        lastSeenAt: at,
        idleExpiresAt: at + IDLE_TTL,
        lastIp: '198.51.100.9',
      };
      expect(result).toEqual({ type: 'rotated', lookup: chain, session: moved });
      expect((await repo.findByTokenHash(chain.token.hash, chain.family.id))?.token).toEqual({
        ...chain.token,
        state: 'rotated',
        rotatedAt: at,
        successorHash: input.successorHash,
        sealedSuccessor: input.sealedSuccessor,
      });
      expect(await repo.findByTokenHash(input.successorHash, chain.family.id)).toEqual({
        token: {
          hash: input.successorHash,
          sessionId: chain.session.id,
          familyId: chain.family.id,
          generation: 1,
          issuedAt: at,
          state: 'current',
        },
        session: moved,
        family: chain.family,
      });
    });

    it('never moves the idle deadline past the family absolute expiry', async () => {
      const call = renewCurrent();
      if (call === undefined) return;
      const chain = await seed(h(), { absoluteExpiresAt: T0 + DAY });
      const result = await call(oneStep(chain, T0 + HOUR));
      expect(result.type === 'rotated' && result.session.idleExpiresAt).toBe(T0 + DAY);
    });

    it('writes nothing and returns what it found for any token it must not rotate', async () => {
      const { repo } = h();
      const call = renewCurrent();
      if (call === undefined) return;
      const at = T0 + HOUR;
      expect(await call(oneStep(buildChain(h()), at))).toEqual({ type: 'not_rotated', lookup: null });
      const elsewhere = await seed(h());
      const stranger = await seed(h());
      expect(await call(oneStep(elsewhere, at, { familyId: stranger.family.id }))).toEqual({
        type: 'not_rotated',
        lookup: null,
      });
      const rotated = await seed(h());
      await rotateChain(h(), rotated, T0 + MINUTE);
      const revoked = await seed(h());
      await repo.revokeFamily({ familyId: revoked.family.id, reason: 'admin', now: T0 + MINUTE });
      const idle = await seed(h(), { idleExpiresAt: at });
      const old = await seed(h(), { absoluteExpiresAt: at });
      const leased = await seed(h());
      await repo.acquireLease({
        sessionId: leased.session.id,
        leaseId: newId(h()),
        ttlMs: LEASE_TTL,
        now: at,
      });
      for (const chain of [rotated, revoked, idle, old, leased]) {
        const before = await snapshot(repo, chain);
        const input = oneStep(chain, at);
        const result = await call(input);
        expect(result).toEqual({ type: 'not_rotated', lookup: (before as { token: unknown }).token });
        expect(await snapshot(repo, chain)).toEqual(before);
        expect(await repo.findByTokenHash(input.successorHash, chain.family.id)).toBeNull();
      }
    });

    it('rotates once when the lease has expired', async () => {
      const { repo } = h();
      const call = renewCurrent();
      if (call === undefined) return;
      const chain = await seed(h());
      await repo.acquireLease({
        sessionId: chain.session.id,
        leaseId: newId(h()),
        ttlMs: LEASE_TTL,
        now: T0,
      });
      expect((await call(oneStep(chain, T0 + LEASE_TTL))).type).toBe('rotated');
    });

    it(`lets exactly one of ${parallelism} parallel one-step renewals rotate`, async () => {
      const { repo } = h();
      const call = renewCurrent();
      if (call === undefined) return;
      const chain = await seed(h());
      const inputs = Array.from({ length: parallelism }, () => oneStep(chain, T0 + MINUTE));
      const results = await inParallel(parallelism, (i) => call(inputs[i] as RenewCurrentInput));
      expect(count(results, (r) => r.type === 'rotated')).toBe(1);
      const winner = inputs[results.findIndex((r) => r.type === 'rotated')] as RenewCurrentInput;
      const stored = await repo.findByTokenHash(chain.token.hash, chain.family.id);
      expect(stored?.token.successorHash).toBe(winner.successorHash);
      expect(stored?.session.generation).toBe(1);
      const successors = await Promise.all(
        inputs.map((input) => repo.findByTokenHash(input.successorHash, chain.family.id)),
      );
      expect(count(successors, (lookup) => lookup !== null)).toBe(1);
      expect(stored?.family.state).toBe('active');
    });
  });

  describe('findFamily', () => {
    it('returns the family with its session, or null for an unknown family', async () => {
      const { repo } = h();
      const chain = await seed(h());
      expect(await repo.findFamily(chain.family.id)).toEqual({
        family: chain.family,
        sessions: [chain.session],
      });
      expect(await repo.findFamily(newId<FamilyId>(h()))).toBeNull();
    });

    it('returns all its sessions, ended ones included', async () => {
      const { repo } = h();
      const original = await seed(h());
      const next = await replaceChain(h(), original, T0 + MINUTE);
      const found = await repo.findFamily(original.family.id);
      expect(found?.family).toEqual(next.family);
      expect(sorted(found?.sessions.map((s) => s.id) ?? [])).toEqual(
        sorted([original.session.id, next.session.id]),
      );
      expect(found?.sessions.find((s) => s.id === original.session.id)?.state).toBe('ended');
    });
  });

  describe('findSession', () => {
    it('returns null for an unknown session', async () => {
      await seed(h());
      expect(await h().repo.findSession(newId<SessionId>(h()))).toBeNull();
    });
  });

  describe('rotate', () => {
    it('rotates a current token: old record rotated, successor current, session moved', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const at = T0 + HOUR;
      const input = rotation(h(), chain, at, { lastIp: '198.51.100.9' });
      const result = await repo.rotate(input);
      const moved = {
        ...chain.session,
        generation: 1,
        lastSeenAt: at,
        idleExpiresAt: input.idleExpiresAt,
        lastIp: '198.51.100.9',
      };
      expect(result).toEqual({ type: 'rotated', session: moved });
      expect((await repo.findByTokenHash(chain.token.hash, chain.family.id))?.token).toMatchObject({
        state: 'rotated',
        rotatedAt: at,
        successorHash: input.successor.hash,
        sealedSuccessor: input.sealedSuccessor,
      });
      expect(await repo.findByTokenHash(input.successor.hash, input.familyId)).toEqual({
        token: input.successor,
        session: moved,
        family: chain.family,
      });
    });

    it('chains: the successor rotates in turn at the next generation', async () => {
      const chain = await rotateChain(
        h(),
        await rotateChain(h(), await seed(h()), T0 + MINUTE),
        T0 + 2 * MINUTE,
      );
      expect(chain.session.generation).toBe(2);
      expect((await h().repo.findByTokenHash(chain.token.hash, chain.family.id))?.token).toMatchObject({
        state: 'current',
        generation: 2,
      });
    });

    it('returns conflict for a token that is no longer current, and writes nothing', async () => {
      const { repo } = h();
      const original = await seed(h());
      await rotateChain(h(), original, T0 + MINUTE);
      // The old hash, both at its own generation and at the session's current one.
      for (const expectedGeneration of [0, 1]) {
        const input = rotation(h(), original, T0 + 2 * MINUTE, { expectedGeneration });
        const before = await snapshot(repo, original);
        expect(await repo.rotate(input)).toEqual({ type: 'conflict' });
        expect(await snapshot(repo, original)).toEqual(before);
        expect(await repo.findByTokenHash(input.successor.hash, input.familyId)).toBeNull();
      }
    });

    it('returns conflict when the generation moved, and writes nothing', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const input = rotation(h(), chain, T0 + MINUTE, { expectedGeneration: 1 });
      const before = await snapshot(repo, chain);
      expect(await repo.rotate(input)).toEqual({ type: 'conflict' });
      expect(await snapshot(repo, chain)).toEqual(before);
      expect(await repo.findByTokenHash(input.successor.hash, input.familyId)).toBeNull();
    });

    it('returns conflict when only the session generation moved (token record still at the expected one)', async () => {
      const { repo } = h();
      const chain = buildChain(h());
      const skewed = { ...chain, session: { ...chain.session, generation: 1 } };
      await repo.create({ ...skewed, now: T0 });
      const input = rotation(h(), skewed, T0 + MINUTE, { expectedGeneration: 0 });
      const before = await snapshot(repo, skewed);
      expect(await repo.rotate(input)).toEqual({ type: 'conflict' });
      expect(await snapshot(repo, skewed)).toEqual(before);
    });

    const inactiveCases = [
      { name: 'the family is revoked', spec: { familyState: 'revoked' as const }, at: T0 + MINUTE },
      { name: 'the session is ended', spec: { sessionState: 'ended' as const }, at: T0 + MINUTE },
      { name: 'the session is revoked', spec: { sessionState: 'revoked' as const }, at: T0 + MINUTE },
      {
        name: 'the session is idle-expired (idleExpiresAt <= now)',
        spec: { idleExpiresAt: T0 + HOUR },
        at: T0 + HOUR,
      },
      {
        name: 'the family is past its absolute expiry (absoluteExpiresAt <= now)',
        spec: { absoluteExpiresAt: T0 + 2 * HOUR, idleExpiresAt: T0 + 2 * HOUR },
        at: T0 + 2 * HOUR,
      },
    ];
    for (const { name, spec, at } of inactiveCases) {
      it(`returns inactive and writes nothing when ${name} (token still current)`, async () => {
        const { repo } = h();
        const chain = await seed(h(), spec);
        const input = rotation(h(), chain, at);
        const before = await snapshot(repo, chain);
        expect(await repo.rotate(input)).toEqual({ type: 'inactive' });
        expect(await snapshot(repo, chain)).toEqual(before);
        expect(await repo.findByTokenHash(input.successor.hash, input.familyId)).toBeNull();
      });
    }

    const refusedAfter: { name: string; act: (chain: Chain) => Promise<unknown> }[] = [
      {
        name: 'revokeFamily',
        act: (chain) => h().repo.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 }),
      },
      {
        name: 'revokeSession',
        act: (chain) => h().repo.revokeSession({ sessionId: chain.session.id, reason: 'logout', now: T0 }),
      },
      { name: 'replaceSession', act: (chain) => replaceChain(h(), chain, T0) },
    ];
    for (const { name, act } of refusedAfter) {
      it(`does not rotate the token of a session after ${name}, and writes nothing`, async () => {
        const { repo } = h();
        const chain = await seed(h());
        await act(chain);
        const input = rotation(h(), chain, T0 + MINUTE);
        const before = await snapshot(repo, chain);
        const result = await repo.rotate(input);
        // The token is no longer current *and* its session is not active: either answer is right.
        expect(['inactive', 'conflict']).toContain(result.type);
        expect(await snapshot(repo, chain)).toEqual(before);
        expect(await repo.findByTokenHash(input.successor.hash, input.familyId)).toBeNull();
      });
    }

    it('of N concurrent rotations with the same expectations, exactly one wins', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const inputs = Array.from({ length: parallelism }, () => rotation(h(), chain, T0 + MINUTE));
      const results = await inParallel(parallelism, (i) => repo.rotate(inputs[i] as RotateInput));
      expect(count(results, (r) => r.type === 'rotated')).toBe(1);
      expect(count(results, (r) => r.type === 'conflict')).toBe(parallelism - 1);
      const winner = inputs[results.findIndex((r) => r.type === 'rotated')];
      expect((await repo.findByTokenHash(chain.token.hash, chain.family.id))?.token.successorHash).toBe(
        winner?.successor.hash,
      );
      expect((await repo.findSession(chain.session.id))?.session.generation).toBe(1);
      const stored = await Promise.all(
        inputs.map((input) => repo.findByTokenHash(input.successor.hash, input.familyId)),
      );
      expect(count(stored, (lookup) => lookup !== null)).toBe(1);
    });

    it('clears the lease of the session', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const holder = newId<LeaseId>(h());
      const lease = await repo.acquireLease({
        sessionId: chain.session.id,
        leaseId: holder,
        ttlMs: LEASE_TTL,
        now: T0,
      });
      expect(lease.type).toBe('acquired');
      await rotateChain(h(), chain, T0 + SECOND);
      expect((await repo.findSession(chain.session.id))?.session.lease).toBeUndefined();
      const other = newId<LeaseId>(h());
      expect(
        await repo.acquireLease({
          sessionId: chain.session.id,
          leaseId: other,
          ttlMs: LEASE_TTL,
          now: T0 + SECOND,
        }),
      ).toEqual({ type: 'acquired', expiresAt: T0 + SECOND + LEASE_TTL });
    });
  });

  describe('acquireLease', () => {
    const lease = (sessionId: SessionId, leaseId: LeaseId, now: number, repo = h().repo) =>
      repo.acquireLease({ sessionId, leaseId, ttlMs: LEASE_TTL, now });

    it('acquires a free lease for ttlMs', async () => {
      const chain = await seed(h());
      expect(await lease(chain.session.id, newId(h()), T0)).toEqual({
        type: 'acquired',
        expiresAt: T0 + LEASE_TTL,
      });
    });

    it('answers held_by_other with the holder expiry while the lease is held', async () => {
      const chain = await seed(h());
      await lease(chain.session.id, newId(h()), T0);
      expect(await lease(chain.session.id, newId(h()), T0 + SECOND)).toEqual({
        type: 'held_by_other',
        expiresAt: T0 + LEASE_TTL,
      });
    });

    it('is re-entrant for the same lease id and extends the lease', async () => {
      const chain = await seed(h());
      const holder = newId<LeaseId>(h());
      await lease(chain.session.id, holder, T0);
      const later = T0 + 2 * SECOND;
      expect(await lease(chain.session.id, holder, later)).toEqual({
        type: 'acquired',
        expiresAt: later + LEASE_TTL,
      });
      // Past the first expiry, the extended lease still holds.
      expect(await lease(chain.session.id, newId(h()), T0 + LEASE_TTL + SECOND)).toEqual({
        type: 'held_by_other',
        expiresAt: later + LEASE_TTL,
      });
    });

    it('lets another id take over an expired lease (expiresAt <= now)', async () => {
      const chain = await seed(h());
      const first = newId<LeaseId>(h());
      const second = newId<LeaseId>(h());
      await lease(chain.session.id, first, T0);
      const expiry = T0 + LEASE_TTL;
      expect((await lease(chain.session.id, second, expiry - 1)).type).toBe('held_by_other');
      expect(await lease(chain.session.id, second, expiry)).toEqual({
        type: 'acquired',
        expiresAt: expiry + LEASE_TTL,
      });
      expect(await lease(chain.session.id, first, expiry + 1)).toEqual({
        type: 'held_by_other',
        expiresAt: expiry + LEASE_TTL,
      });
    });

    it('is unavailable for a missing session', async () => {
      await seed(h());
      expect(await lease(newId(h()), newId(h()), T0)).toEqual({ type: 'unavailable' });
    });

    const unavailableAfter: { name: string; act: (chain: Chain) => Promise<unknown> }[] = [
      {
        name: 'revokeSession',
        act: (chain) => h().repo.revokeSession({ sessionId: chain.session.id, reason: 'logout', now: T0 }),
      },
      {
        name: 'revokeFamily',
        act: (chain) => h().repo.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 }),
      },
      { name: 'replaceSession (session ended)', act: (chain) => replaceChain(h(), chain, T0) },
    ];
    for (const { name, act } of unavailableAfter) {
      it(`is unavailable after ${name}`, async () => {
        const chain = await seed(h());
        await act(chain);
        expect(await lease(chain.session.id, newId(h()), T0 + SECOND)).toEqual({ type: 'unavailable' });
      });
    }

    it('of N concurrent acquisitions by different ids, exactly one acquires', async () => {
      const chain = await seed(h());
      const holders = Array.from({ length: parallelism }, () => newId<LeaseId>(h()));
      const results = await inParallel(parallelism, (i) =>
        lease(chain.session.id, holders[i] as LeaseId, T0),
      );
      expect(count(results, (r) => r.type === 'acquired')).toBe(1);
      expect(count(results, (r) => r.type === 'held_by_other')).toBe(parallelism - 1);
    });
  });

  describe('releaseLease', () => {
    it('releases only when the given id holds the lease', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const sessionId = chain.session.id;
      const [holder, stranger, next] = [newId<LeaseId>(h()), newId<LeaseId>(h()), newId<LeaseId>(h())];
      await repo.acquireLease({ sessionId, leaseId: holder, ttlMs: LEASE_TTL, now: T0 });
      await repo.releaseLease({ sessionId, leaseId: stranger });
      expect((await repo.acquireLease({ sessionId, leaseId: next, ttlMs: LEASE_TTL, now: T0 })).type).toBe(
        'held_by_other',
      );
      await repo.releaseLease({ sessionId, leaseId: holder });
      expect(await repo.acquireLease({ sessionId, leaseId: next, ttlMs: LEASE_TTL, now: T0 })).toEqual({
        type: 'acquired',
        expiresAt: T0 + LEASE_TTL,
      });
    });

    it('never fails for a missing lease or a missing session', async () => {
      const { repo } = h();
      const chain = await seed(h());
      await expect(
        repo.releaseLease({ sessionId: chain.session.id, leaseId: newId(h()) }),
      ).resolves.toBeUndefined();
      await expect(
        repo.releaseLease({ sessionId: newId(h()), leaseId: newId(h()) }),
      ).resolves.toBeUndefined();
    });
  });

  describe('replaceSession', () => {
    it('ends the old session, revokes its token, starts the new one and replaces the authContext', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const at = T0 + HOUR;
      const next = await replaceChain(h(), chain, at);
      const old = await repo.findByTokenHash(chain.token.hash, chain.family.id);
      expect(old?.session).toMatchObject({ state: 'ended', endedAt: at });
      expect(old?.token.state).toBe('revoked');
      expect(await repo.findByTokenHash(next.token.hash, next.family.id)).toEqual({
        token: next.token,
        session: next.session,
        family: next.family,
      });
      expect(next.family.authContext).toEqual({
        authTime: at,
        amr: ['pwd', 'otp'],
        acr: 'urn:sessionkit:aal2',
      });
      expect((await repo.findSession(next.session.id))?.family).toEqual(next.family);
    });

    const refusals: { name: string; act: (chain: Chain) => Promise<unknown> }[] = [
      {
        name: 'the family is revoked',
        act: (chain) => h().repo.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 }),
      },
      {
        name: 'the old session is revoked',
        act: (chain) => h().repo.revokeSession({ sessionId: chain.session.id, reason: 'logout', now: T0 }),
      },
      { name: 'the old session already ended', act: (chain) => replaceChain(h(), chain, T0) },
    ];
    for (const { name, act } of refusals) {
      it(`returns inactive and writes nothing when ${name}`, async () => {
        const { repo } = h();
        const chain = await seed(h());
        await act(chain);
        const before = await snapshot(repo, chain);
        const next = replacement(h(), chain, T0 + MINUTE);
        const result = await repo.replaceSession({
          oldSessionId: chain.session.id,
          familyId: chain.family.id,
          newSession: next.session,
          token: next.token,
          authContext: { authTime: T0 + MINUTE, amr: ['hwk'] },
          now: T0 + MINUTE,
        });
        expect(result).toEqual({ type: 'inactive' });
        expect(await snapshot(repo, chain)).toEqual(before);
        expect(await repo.findSession(next.session.id)).toBeNull();
        expect(await repo.findByTokenHash(next.token.hash, chain.family.id)).toBeNull();
      });
    }

    it('of N concurrent replacements of one session, exactly one replaces', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const nexts = Array.from({ length: parallelism }, () => replacement(h(), chain, T0 + MINUTE));
      const results = await inParallel(parallelism, (i) => {
        const next = nexts[i] as Pick<Chain, 'session' | 'token'>;
        return repo.replaceSession({
          oldSessionId: chain.session.id,
          familyId: chain.family.id,
          newSession: next.session,
          token: next.token,
          authContext: { authTime: T0 + MINUTE, amr: ['otp'] },
          now: T0 + MINUTE,
        });
      });
      expect(count(results, (r) => r.type === 'replaced')).toBe(1);
      const stored = await Promise.all(nexts.map((next) => repo.findSession(next.session.id)));
      expect(count(stored, (found) => found !== null)).toBe(1);
      const families = await repo.listFamilies({ subject: 'alice', now: T0 + MINUTE });
      expect(families).toHaveLength(1);
      expect(count(families[0]?.sessions ?? [], (s) => s.state === 'active')).toBe(1);
    });
  });

  describe('revokeSession', () => {
    it('revokes an active session and its current token; the family stays active', async () => {
      const { repo } = h();
      const chain = await seed(h());
      expect(
        await repo.revokeSession({ sessionId: chain.session.id, reason: 'logout', now: T0 + MINUTE }),
      ).toEqual({
        families: [],
        sessions: [chain.session.id],
      });
      const lookup = await repo.findByTokenHash(chain.token.hash, chain.family.id);
      expect(lookup?.session).toMatchObject({ state: 'revoked', revokeReason: 'logout' });
      expect(lookup?.token.state).toBe('revoked');
      expect(lookup?.family.state).toBe('active');
    });

    it('returns empty lists when nothing changes (second call, unknown or ended session)', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const revoke = (sessionId: SessionId) => repo.revokeSession({ sessionId, reason: 'logout', now: T0 });
      await revoke(chain.session.id);
      expect(await revoke(chain.session.id)).toEqual({ families: [], sessions: [] });
      expect(await revoke(newId(h()))).toEqual({ families: [], sessions: [] });
      const ended = await seed(h());
      await replaceChain(h(), ended, T0);
      expect(await revoke(ended.session.id)).toEqual({ families: [], sessions: [] });
      expect((await repo.findSession(ended.session.id))?.session.state).toBe('ended');
    });
  });

  describe('revokeFamily', () => {
    it('revokes the family, its active session and its current token', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const other = await seed(h());
      const now = T0 + MINUTE;
      expect(await repo.revokeFamily({ familyId: chain.family.id, reason: 'replay_detected', now })).toEqual({
        families: [chain.family.id],
        sessions: [chain.session.id],
      });
      const lookup = await repo.findByTokenHash(chain.token.hash, chain.family.id);
      expect(lookup?.family).toMatchObject({
        state: 'revoked',
        revokedAt: now,
        revokeReason: 'replay_detected',
      });
      expect(lookup?.session.state).toBe('revoked');
      expect(lookup?.token.state).toBe('revoked');
      expect(await repo.findByTokenHash(other.token.hash, other.family.id)).toEqual(other);
    });

    it('revokes every active session of the family, after a rotation and a replacement', async () => {
      const { repo } = h();
      const rotated = await rotateChain(h(), await seed(h()), T0 + MINUTE);
      const next = await replaceChain(h(), rotated, T0 + 2 * MINUTE);
      const result = await repo.revokeFamily({
        familyId: next.family.id,
        reason: 'admin',
        now: T0 + 3 * MINUTE,
      });
      // The ended session did not change now, so only the active one is listed.
      expect(result).toEqual({ families: [next.family.id], sessions: [next.session.id] });
      expect((await repo.findByTokenHash(next.token.hash, next.family.id))?.token.state).toBe('revoked');
      expect((await repo.findSession(rotated.session.id))?.session.state).toBe('ended');
    });

    it('lists only what changed: an already revoked session is not listed, a second call lists nothing', async () => {
      const { repo } = h();
      const chain = await seed(h());
      await repo.revokeSession({ sessionId: chain.session.id, reason: 'logout', now: T0 });
      const revoke = () =>
        repo.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 + MINUTE });
      expect(await revoke()).toEqual({ families: [chain.family.id], sessions: [] });
      expect(await revoke()).toEqual({ families: [], sessions: [] });
      expect(await repo.revokeFamily({ familyId: newId(h()), reason: 'admin', now: T0 })).toEqual({
        families: [],
        sessions: [],
      });
    });

    it('of N concurrent revocations of one family, exactly one reports the change', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const results = await inParallel(parallelism, () =>
        repo.revokeFamily({ familyId: chain.family.id, reason: 'replay_detected', now: T0 + MINUTE }),
      );
      expect(count(results, (r) => r.families.length > 0)).toBe(1);
      expect(results.flatMap((r) => r.sessions)).toEqual([chain.session.id]);
    });
  });

  describe('revokeSubject', () => {
    it("revokes every active family of the subject and nobody else's; a second call lists nothing", async () => {
      const { repo } = h();
      const mine = [await seed(h()), await seed(h()), await seed(h())];
      const bob = await seed(h(), { subject: 'bob' });
      const revoke = () =>
        repo.revokeSubject({ subject: 'alice', reason: 'password_changed', now: T0 + MINUTE });
      const result = await revoke();
      expect(sorted(result.families)).toEqual(sorted(mine.map((c) => c.family.id)));
      expect(sorted(result.sessions)).toEqual(sorted(mine.map((c) => c.session.id)));
      for (const chain of mine) {
        const lookup = await repo.findByTokenHash(chain.token.hash, chain.family.id);
        expect(lookup?.family).toMatchObject({ state: 'revoked', revokeReason: 'password_changed' });
        expect(lookup?.session.state).toBe('revoked');
        expect(lookup?.token.state).toBe('revoked');
      }
      expect(await repo.findByTokenHash(bob.token.hash, bob.family.id)).toEqual(bob);
      expect(await revoke()).toEqual({ families: [], sessions: [] });
    });

    it('spares exceptFamilyId', async () => {
      const { repo } = h();
      const [keep, drop1, drop2] = [await seed(h()), await seed(h()), await seed(h())];
      const revoke = () =>
        repo.revokeSubject({
          subject: 'alice',
          reason: 'logout',
          now: T0 + MINUTE,
          exceptFamilyId: keep.family.id,
        });
      const result = await revoke();
      expect(sorted(result.families)).toEqual(sorted([drop1.family.id, drop2.family.id]));
      expect(sorted(result.sessions)).toEqual(sorted([drop1.session.id, drop2.session.id]));
      expect(await repo.findByTokenHash(keep.token.hash, keep.family.id)).toEqual(keep);
      expect(await listedIds(repo, 'alice', T0 + MINUTE)).toEqual([keep.family.id]);
      expect(await revoke()).toEqual({ families: [], sessions: [] });
    });

    it('does not list families that were already revoked', async () => {
      const { repo } = h();
      const [gone, live] = [await seed(h()), await seed(h())];
      await repo.revokeFamily({ familyId: gone.family.id, reason: 'logout', now: T0 });
      expect(await repo.revokeSubject({ subject: 'alice', reason: 'admin', now: T0 + MINUTE })).toEqual({
        families: [live.family.id],
        sessions: [live.session.id],
      });
      expect((await repo.findSession(gone.session.id))?.family.revokeReason).toBe('logout');
    });
  });

  describe('listFamilies', () => {
    it('lists oldest first: createdAt, then id', async () => {
      const { repo } = h();
      const chains = [
        buildChain(h(), { at: T0 + 2 * MINUTE }),
        buildChain(h(), { at: T0 + MINUTE }),
        buildChain(h(), { at: T0 + MINUTE }),
        buildChain(h(), { at: T0 }),
      ];
      const expected = oldestFirst(chains);
      // Insert in reverse of the expected order so insertion order cannot pass for sorting.
      for (const id of [...expected].reverse()) {
        const chain = chains.find((c) => c.family.id === id) as Chain;
        await repo.create({ ...chain, now: chain.family.createdAt });
      }
      expect(await listedIds(repo, 'alice', T0 + HOUR)).toEqual(expected);
    });

    it('lists only live families unless includeInactive, each with its sessions', async () => {
      const { repo } = h();
      const live = await seed(h(), { at: T0 });
      const revoked = await seed(h(), { at: T0 + SECOND });
      await repo.revokeFamily({ familyId: revoked.family.id, reason: 'logout', now: T0 + MINUTE });
      const expired = await seed(h(), {
        at: T0 + 2 * SECOND,
        absoluteExpiresAt: T0 + HOUR,
        idleExpiresAt: T0 + HOUR,
      });
      await seed(h(), { subject: 'bob' });
      const now = T0 + HOUR;
      const listed = await repo.listFamilies({ subject: 'alice', now });
      expect(listed).toEqual([{ family: live.family, sessions: [live.session] }]);
      const all = await repo.listFamilies({ subject: 'alice', now, includeInactive: true });
      expect(all.map((entry) => entry.family.id)).toEqual([
        live.family.id,
        revoked.family.id,
        expired.family.id,
      ]);
      expect(all.map((entry) => entry.sessions.map((s) => s.id))).toEqual([
        [live.session.id],
        [revoked.session.id],
        [expired.session.id],
      ]);
      expect(await listedIds(repo, 'nobody', now, true)).toEqual([]);
    });
  });

  describe('touch', () => {
    it('records activity on an active session', async () => {
      const { repo } = h();
      const chain = await seed(h());
      const now = T0 + HOUR;
      expect(await repo.touch({ sessionId: chain.session.id, idleExpiresAt: now + IDLE_TTL, now })).toBe(
        true,
      );
      expect((await repo.findSession(chain.session.id))?.session).toEqual({
        ...chain.session,
        lastSeenAt: now,
        idleExpiresAt: now + IDLE_TTL,
      });
    });

    const refusals: { name: string; at: number; prepare: (chain: Chain) => Promise<unknown> }[] = [
      {
        name: 'revoked',
        at: T0 + MINUTE,
        prepare: (chain) =>
          h().repo.revokeSession({ sessionId: chain.session.id, reason: 'logout', now: T0 }),
      },
      { name: 'ended', at: T0 + MINUTE, prepare: (chain) => replaceChain(h(), chain, T0) },
      { name: 'idle-expired (idleExpiresAt <= now)', at: T0 + IDLE_TTL, prepare: async () => {} },
    ];
    for (const { name, at, prepare } of refusals) {
      it(`returns false and writes nothing when the session is ${name}`, async () => {
        const { repo } = h();
        const chain = await seed(h());
        await prepare(chain);
        const before = await snapshot(repo, chain);
        expect(await repo.touch({ sessionId: chain.session.id, idleExpiresAt: at + IDLE_TTL, now: at })).toBe(
          false,
        );
        expect(await snapshot(repo, chain)).toEqual(before);
      });
    }

    it('returns false for an unknown session', async () => {
      expect(await h().repo.touch({ sessionId: newId(h()), idleExpiresAt: T0 + DAY, now: T0 })).toBe(false);
    });
  });

  describe('deleteExpired', () => {
    it('deletes dead families in batches of batchSize, with their sessions and tokens', async () => {
      const { repo } = h();
      const now = T0 + 2 * HOUR;
      const dead = [
        // Past the absolute expiry (one exactly at it).
        await seed(h(), { absoluteExpiresAt: T0 + HOUR, idleExpiresAt: T0 + HOUR }),
        await seed(h(), { absoluteExpiresAt: now, idleExpiresAt: now }),
        await rotateChain(
          h(),
          await seed(h(), { absoluteExpiresAt: T0 + HOUR, idleExpiresAt: T0 + HOUR }),
          T0,
        ),
        // Past the idle deadline of their only session (one exactly at it).
        await seed(h(), { idleExpiresAt: T0 + HOUR }),
        await seed(h(), { idleExpiresAt: now }),
      ];
      const live = await seed(h(), { idleExpiresAt: now + 1 });
      const sweep = () => repo.deleteExpired({ now, batchSize: 2, sealedBefore: T0 });
      expect(await sweep()).toEqual({ deleted: 2 });
      expect(await sweep()).toEqual({ deleted: 2 });
      expect(await sweep()).toEqual({ deleted: 1 });
      expect(await sweep()).toEqual({ deleted: 0 });
      for (const chain of dead) {
        expect(await repo.findByTokenHash(chain.token.hash, chain.family.id)).toBeNull();
        expect(await repo.findSession(chain.session.id)).toBeNull();
      }
      expect(await listedIds(repo, 'alice', now, true)).toEqual([live.family.id]);
      expect(await repo.findByTokenHash(live.token.hash, live.family.id)).toEqual(live);
    });

    it('deletes the rotated token records of a dead family too', async () => {
      const { repo } = h();
      const first = await seed(h(), { absoluteExpiresAt: T0 + HOUR, idleExpiresAt: T0 + HOUR });
      const second = await rotateChain(h(), first, T0 + MINUTE);
      expect(await repo.deleteExpired({ now: T0 + HOUR, batchSize: 10, sealedBefore: T0 })).toEqual({
        deleted: 1,
      });
      expect(await repo.findByTokenHash(first.token.hash, first.family.id)).toBeNull();
      expect(await repo.findByTokenHash(second.token.hash, second.family.id)).toBeNull();
    });

    it('keeps a revoked family until it is dead, so a late replay still reads as revoked', async () => {
      const { repo } = h();
      const chain = await seed(h(), { idleExpiresAt: T0 + DAY });
      await repo.revokeFamily({ familyId: chain.family.id, reason: 'logout', now: T0 + HOUR });
      expect(await repo.deleteExpired({ now: T0 + HOUR, batchSize: 10, sealedBefore: T0 })).toEqual({
        deleted: 0,
      });
      expect((await repo.findByTokenHash(chain.token.hash, chain.family.id))?.family.state).toBe('revoked');
      expect(await repo.deleteExpired({ now: T0 + DAY, batchSize: 10, sealedBefore: T0 })).toEqual({
        deleted: 1,
      });
      expect(await repo.findByTokenHash(chain.token.hash, chain.family.id)).toBeNull();
    });

    it('judges idleness by the latest idleExpiresAt of all the family sessions', async () => {
      const { repo } = h();
      const original = await seed(h());
      // The ended session idles out at T0 + 7d, its replacement at T0 + 8d.
      const next = await replaceChain(h(), original, T0 + DAY);
      const sweep = (now: number) => repo.deleteExpired({ now, batchSize: 10, sealedBefore: T0 });
      expect(await sweep(T0 + IDLE_TTL + HOUR)).toEqual({ deleted: 0 });
      expect(await repo.findSession(next.session.id)).not.toBeNull();
      expect(await sweep(next.session.idleExpiresAt)).toEqual({ deleted: 1 });
      expect(await repo.findSession(original.session.id)).toBeNull();
    });

    it('drops sealedSuccessor from records rotated at or before sealedBefore, keeping the rest', async () => {
      const { repo } = h();
      const first = await seed(h());
      const secondInput = rotation(h(), first, T0 + MINUTE);
      expect((await repo.rotate(secondInput)).type).toBe('rotated');
      const second = { ...first, token: secondInput.successor };
      const thirdInput = rotation(h(), second, T0 + 2 * MINUTE);
      expect((await repo.rotate(thirdInput)).type).toBe('rotated');
      expect(
        await repo.deleteExpired({ now: T0 + 3 * MINUTE, batchSize: 10, sealedBefore: T0 + MINUTE }),
      ).toEqual({
        deleted: 0,
      });
      const dropped = await repo.findByTokenHash(first.token.hash, first.family.id);
      expect(dropped?.token.state).toBe('rotated');
      expect(dropped?.token.sealedSuccessor).toBeUndefined();
      expect((await repo.findByTokenHash(second.token.hash, second.family.id))?.token).toMatchObject({
        state: 'rotated',
        sealedSuccessor: thirdInput.sealedSuccessor,
      });
      expect((await repo.findByTokenHash(thirdInput.successor.hash, thirdInput.familyId))?.token.state).toBe(
        'current',
      );
    });
  });

  describe('stats', () => {
    it('counts active sessions and families, recent sessions, mean duration and deletions', async () => {
      const { repo } = h();
      await seed(h(), { at: T0, lastSeenAt: T0 + 40 * MINUTE });
      const revoked = await seed(h(), { at: T0 + 10 * MINUTE });
      await repo.revokeFamily({ familyId: revoked.family.id, reason: 'logout', now: T0 + 10 * MINUTE });
      await seed(h(), { at: T0 + 20 * MINUTE, idleExpiresAt: T0 + HOUR });
      await seed(h(), {
        at: T0 + 30 * MINUTE,
        absoluteExpiresAt: T0 + 2 * HOUR,
        idleExpiresAt: T0 + 2 * HOUR,
      });
      const now = T0 + 3 * HOUR;
      const before = await repo.stats({ now, since: T0 + 20 * MINUTE });
      expect(before).toMatchObject({
        activeSessions: 1,
        activeFamilies: 2,
        sessionsCreatedSince: 2,
        averageSessionDurationMs: 10 * MINUTE,
      });
      // The idle-expired and the absolutely expired families are dead.
      expect(await repo.deleteExpired({ now, batchSize: 10, sealedBefore: now })).toEqual({ deleted: 2 });
      const after = await repo.stats({ now, since: T0 + 20 * MINUTE });
      expect(after.expiredDeleted - before.expiredDeleted).toBe(2);
      expect(after).toMatchObject({ activeSessions: 1, activeFamilies: 1, sessionsCreatedSince: 0 });
    });

    it('reports zeros for an empty store', async () => {
      expect(await h().repo.stats({ now: T0, since: T0 - DAY })).toMatchObject({
        activeSessions: 0,
        activeFamilies: 0,
        sessionsCreatedSince: 0,
        averageSessionDurationMs: 0,
      });
    });
  });

  describe('two instances over one backend', () => {
    it("see each other's writes", async () => {
      const { repo: a } = h();
      const b = await h().another();
      const chain = await seed(h(), {}, a);
      expect(await b.findByTokenHash(chain.token.hash, chain.family.id)).toEqual(chain);
      const next = await rotateChain(h(), chain, T0 + MINUTE, b);
      expect((await a.findByTokenHash(chain.token.hash, chain.family.id))?.token.state).toBe('rotated');
      expect((await a.findByTokenHash(next.token.hash, next.family.id))?.token.state).toBe('current');
      await a.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 + 2 * MINUTE });
      expect(await listedIds(b, 'alice', T0 + 2 * MINUTE)).toEqual([]);
      expect(
        await b.revokeFamily({ familyId: chain.family.id, reason: 'admin', now: T0 + 3 * MINUTE }),
      ).toEqual({
        families: [],
        sessions: [],
      });
    });

    it('share leases: held via one is held_by_other via the other, released via the holder', async () => {
      const { repo: a } = h();
      const b = await h().another();
      const chain = await seed(h(), {}, a);
      const sessionId = chain.session.id;
      const [first, second] = [newId<LeaseId>(h()), newId<LeaseId>(h())];
      expect((await a.acquireLease({ sessionId, leaseId: first, ttlMs: LEASE_TTL, now: T0 })).type).toBe(
        'acquired',
      );
      expect(await b.acquireLease({ sessionId, leaseId: second, ttlMs: LEASE_TTL, now: T0 })).toEqual({
        type: 'held_by_other',
        expiresAt: T0 + LEASE_TTL,
      });
      await b.releaseLease({ sessionId, leaseId: second });
      expect((await b.acquireLease({ sessionId, leaseId: second, ttlMs: LEASE_TTL, now: T0 })).type).toBe(
        'held_by_other',
      );
      await a.releaseLease({ sessionId, leaseId: first });
      expect((await b.acquireLease({ sessionId, leaseId: second, ttlMs: LEASE_TTL, now: T0 })).type).toBe(
        'acquired',
      );
    });

    it('of N concurrent rotations split across both, exactly one wins', async () => {
      const repos = [h().repo, await h().another()];
      const chain = await seed(h());
      const inputs = Array.from({ length: parallelism }, () => rotation(h(), chain, T0 + MINUTE));
      const results = await inParallel(parallelism, (i) =>
        (repos[i % 2] as SessionRepository).rotate(inputs[i] as RotateInput),
      );
      expect(count(results, (r) => r.type === 'rotated')).toBe(1);
      expect((await repos[1]?.findSession(chain.session.id))?.session.generation).toBe(1);
    });

    it('of N concurrent lease acquisitions split across both, exactly one acquires', async () => {
      const repos = [h().repo, await h().another()];
      const chain = await seed(h());
      const results = await inParallel(parallelism, (i) =>
        (repos[i % 2] as SessionRepository).acquireLease({
          sessionId: chain.session.id,
          leaseId: newId(h()),
          ttlMs: LEASE_TTL,
          now: T0,
        }),
      );
      expect(count(results, (r) => r.type === 'acquired')).toBe(1);
    });

    it("of N concurrent creates with 'reject' split across both, at most max succeed", async () => {
      const repos = [h().repo, await h().another()];
      const chains = Array.from({ length: parallelism }, () => buildChain(h()));
      const results = await inParallel(parallelism, (i) =>
        (repos[i % 2] as SessionRepository).create({
          ...(chains[i] as Chain),
          limit: { max: 2, policy: 'reject' },
          now: T0,
        }),
      );
      expect(count(results, (r) => r.type === 'created')).toBe(2);
      expect(await listedIds(h().repo, 'alice', T0)).toHaveLength(2);
    });
  });
}
