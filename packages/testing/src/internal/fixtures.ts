/**
 * Shared fixtures of the conformance suite: the per-test harness (fake clock, seeded random, the
 * repository under test) and the builders of hand-made families, sessions and refresh-token
 * records. Every test builds its records here, so a change to the domain model is made once.
 * Hashes are random 43-character base64url strings, exactly the shape a real `TokenHash` has.
 */

import {
  type FakeClock,
  type Family,
  type FamilyId,
  type LeaseId,
  type RandomSource,
  type RefreshTokenRecord,
  type RotateInput,
  type Session,
  type SessionId,
  type SessionRepository,
  type TokenHash,
  uuidv7,
} from '@sessionkit/sessions-core';
import { expect } from 'vitest';

/** 2026-01-01T00:00:00Z: the instant every test starts at. */
export const T0 = Date.UTC(2026, 0, 1);
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Defaults of hand-built records; they mirror the kit config the service-level tests use. */
export const IDLE_TTL = 7 * DAY;
export const ABSOLUTE_TTL = 30 * DAY;
export const LEASE_TTL = 5 * SECOND;

/** What each test works with. A fresh one is made before every test. */
export interface Harness {
  readonly clock: FakeClock;
  readonly random: RandomSource;
  /** The repository under test, from one `create()` call. */
  readonly repo: SessionRepository;
  /** Another repository over the same backend (a fresh `create()` call). */
  readonly another: () => Promise<SessionRepository>;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Unpadded base64url of `bytes`. */
export function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let j = 0; j < chars; j++) out += BASE64URL[(chunk >>> (18 - 6 * j)) & 63];
  }
  return out;
}

/** Bytes of an unpadded base64url string (used to recompute other encodings of a secret). */
export function fromBase64url(text: string): Uint8Array {
  const bits: number[] = [];
  for (const char of text) bits.push(BASE64URL.indexOf(char));
  const out = new Uint8Array(Math.floor((bits.length * 6) / 8));
  for (let i = 0; i < out.length; i++) {
    const bit = i * 8;
    const at = Math.floor(bit / 6);
    const word = ((bits[at] ?? 0) << 6) | (bits[at + 1] ?? 0);
    out[i] = (word >>> (4 - (bit % 6))) & 0xff;
  }
  return out;
}

/** A fresh UUIDv7 typed as the id it stands for. */
export function newId<Id extends FamilyId | SessionId | LeaseId>(h: Harness): Id {
  return uuidv7(h.clock, h.random) as Id;
}

/** A random 43-character base64url string, the shape of a SHA-256 token hash. */
export function newHash(h: Harness): TokenHash {
  return base64url(h.random.bytes(32)) as TokenHash;
}

/** One family with its single session and current token, as `create` takes them. */
export interface Chain {
  readonly family: Family;
  readonly session: Session;
  readonly token: RefreshTokenRecord;
}

/** Overrides of {@link buildChain}; every time defaults relative to `at`. */
export interface ChainSpec {
  readonly subject?: string;
  /** Creation instant of the family, session and token (default: the harness clock). */
  readonly at?: number;
  readonly absoluteExpiresAt?: number;
  readonly idleExpiresAt?: number;
  readonly lastSeenAt?: number;
  /** Hand-built states, for rules that must hold whatever the token's own state is. */
  readonly familyState?: Family['state'];
  readonly sessionState?: Session['state'];
}

/** Builds (without storing) a family, its first session and its current token. */
export function buildChain(h: Harness, spec: ChainSpec = {}): Chain {
  const at = spec.at ?? h.clock.now();
  const subject = spec.subject ?? 'alice';
  const familyState = spec.familyState ?? 'active';
  const sessionState = spec.sessionState ?? 'active';
  const family: Family = {
    id: newId<FamilyId>(h),
    subject,
    createdAt: at,
    absoluteExpiresAt: spec.absoluteExpiresAt ?? at + ABSOLUTE_TTL,
    authContext: { authTime: at, amr: ['pwd'] },
    client: { ip: '203.0.113.7', userAgent: 'conformance/1.0' },
    grant: { clientId: 'conformance' },
    state: familyState,
    ...(familyState === 'revoked' ? { revokedAt: at, revokeReason: 'admin' as const } : {}),
  };
  const session = buildSession(h, family, at, {
    idleExpiresAt: spec.idleExpiresAt ?? at + IDLE_TTL,
    lastSeenAt: spec.lastSeenAt ?? at,
    state: sessionState,
  });
  return { family, session, token: buildToken(h, session, at) };
}

function buildSession(
  h: Harness,
  family: Family,
  at: number,
  fields: { idleExpiresAt: number; lastSeenAt: number; state: Session['state'] },
): Session {
  return {
    id: newId<SessionId>(h),
    familyId: family.id,
    subject: family.subject,
    createdAt: at,
    lastSeenAt: fields.lastSeenAt,
    lastIp: '203.0.113.7',
    idleExpiresAt: fields.idleExpiresAt,
    generation: 0,
    state: fields.state,
    ...(fields.state === 'ended' ? { endedAt: at } : {}),
    ...(fields.state === 'revoked' ? { revokeReason: 'admin' as const } : {}),
  };
}

/** The current token of `session` at its generation. */
function buildToken(h: Harness, session: Session, at: number): RefreshTokenRecord {
  return {
    hash: newHash(h),
    sessionId: session.id,
    familyId: session.familyId,
    generation: session.generation,
    issuedAt: at,
    state: 'current',
  };
}

/** Builds and stores a chain, failing the test unless `create` answers `created`. */
export async function seed(h: Harness, spec: ChainSpec = {}, repo = h.repo): Promise<Chain> {
  const chain = buildChain(h, spec);
  const result = await repo.create({ ...chain, now: spec.at ?? h.clock.now() });
  expect(result).toEqual({ type: 'created', evicted: [] });
  return chain;
}

/** The input that rotates `chain`'s current token at `at` (CAS on its hash and generation). */
export function rotation(
  h: Harness,
  chain: Chain,
  at: number,
  overrides: Partial<RotateInput> = {},
): RotateInput {
  const successor: RefreshTokenRecord = {
    ...buildToken(h, chain.session, at),
    generation: chain.token.generation + 1,
  };
  return {
    sessionId: chain.session.id,
    familyId: chain.family.id,
    expectedHash: chain.token.hash,
    expectedGeneration: chain.token.generation,
    successor,
    sealedSuccessor: base64url(h.random.bytes(76)),
    idleExpiresAt: Math.min(at + IDLE_TTL, chain.family.absoluteExpiresAt),
    now: at,
    ...overrides,
  };
}

/** Rotates `chain` at `at`, failing the test unless it rotates; returns the chain after it. */
export async function rotateChain(h: Harness, chain: Chain, at: number, repo = h.repo): Promise<Chain> {
  const input = rotation(h, chain, at);
  const result = await repo.rotate(input);
  expect(result).toMatchObject({ type: 'rotated' });
  if (result.type !== 'rotated') throw new Error('rotate did not rotate');
  return { family: chain.family, session: result.session, token: input.successor };
}

/** A replacement session (with its first token) for `chain`'s family, as `replaceSession` takes it. */
export function replacement(h: Harness, chain: Chain, at: number): Pick<Chain, 'session' | 'token'> {
  const session = buildSession(h, chain.family, at, {
    idleExpiresAt: Math.min(at + IDLE_TTL, chain.family.absoluteExpiresAt),
    lastSeenAt: at,
    state: 'active',
  });
  return { session, token: buildToken(h, session, at) };
}

/** Replaces `chain`'s session at `at` (step-up), failing the test unless it is replaced. */
export async function replaceChain(h: Harness, chain: Chain, at: number, repo = h.repo): Promise<Chain> {
  const next = replacement(h, chain, at);
  const authContext = { authTime: at, amr: ['pwd', 'otp'], acr: 'urn:sessionkit:aal2' };
  const result = await repo.replaceSession({
    oldSessionId: chain.session.id,
    familyId: chain.family.id,
    newSession: next.session,
    token: next.token,
    authContext,
    now: at,
  });
  expect(result).toEqual({ type: 'replaced' });
  return { family: { ...chain.family, authContext }, ...next };
}

/** `n` calls of `task`, started together and awaited with `Promise.all`. */
export function inParallel<T>(n: number, task: (index: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, index) => task(index)));
}

/** Ids sorted, for comparing sets returned in no particular order. */
export function sorted<T extends string>(ids: readonly T[]): T[] {
  return [...ids].sort();
}

/** How many items of `items` satisfy `predicate`. */
export function count<T>(items: readonly T[], predicate: (item: T) => boolean): number {
  return items.filter(predicate).length;
}
