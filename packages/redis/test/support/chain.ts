/**
 * Reads family hashes straight from Redis, past the repository, and checks the token-chain
 * invariants over them — the Redis twin of the Postgres tests' `chainViolations` SQL. For every
 * family: an active session of an active family has exactly one current token, any other session
 * none; the current token's generation is its session's and the session names it; a session at
 * generation g holds tokens of generations 0…g, one each, each rotated one leading to the next; a
 * revoked family has no active session; every session is listed by its family; the hash has a TTL.
 */

import type { Cluster, Redis } from 'ioredis';
import { keyLayout } from '../../src/keys.js';
import { type FamilyCore, type SessionCore, type TokenCore, unpackCore } from '../../src/records.js';
import { keysUnder } from './redis.js';

/** One family hash, decoded. */
export interface StoredFamily {
  readonly id: string;
  readonly ttlMs: number;
  readonly core: FamilyCore;
  /** Session cores by session id (`s:<sid>` fields). */
  readonly sessions: ReadonlyMap<string, SessionCore>;
  /** Token records by hash (`t:<hash>` fields). */
  readonly tokens: ReadonlyMap<string, TokenCore>;
}

/** The family hash of `familyId` under `prefix`, decoded; null when there is none. */
export async function readFamily(
  client: Redis | Cluster,
  prefix: string,
  familyId: string,
): Promise<StoredFamily | null> {
  const key = keyLayout(prefix).family(familyId);
  const [fields, ttlMs] = await Promise.all([client.hgetallBuffer(key), client.pttl(key)]);
  const f = fields.f;
  if (f === undefined) return null;
  const sessions = new Map<string, SessionCore>();
  const tokens = new Map<string, TokenCore>();
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith('s:')) sessions.set(field.slice(2), unpackCore<SessionCore>(value, 'session'));
    if (field.startsWith('t:')) tokens.set(field.slice(2), unpackCore<TokenCore>(value, 'token'));
  }
  return { id: familyId, ttlMs, core: unpackCore<FamilyCore>(f, 'family'), sessions, tokens };
}

/** Per session of a family: its state, generation and number of current tokens, oldest first. */
export function sessionsOf(family: StoredFamily) {
  return [...family.sessions.entries()]
    .sort(([, a], [, b]) => a.ca - b.ca)
    .map(([id, session]) => ({
      id,
      state: session.st,
      generation: session.g,
      current: [...family.tokens.values()].filter((token) => token.sid === id && token.st === 'current')
        .length,
    }));
}

/** What is wrong with one family's chain (empty when nothing is). */
export function familyViolations(family: StoredFamily): string[] {
  const problems: string[] = [];
  const { id, core } = family;
  const listed = new Set(core.ss);
  for (const sid of listed) {
    if (!family.sessions.has(sid)) problems.push(`family ${id} lists session ${sid}, which has no record`);
  }
  for (const [sid, session] of family.sessions) {
    if (!listed.has(sid)) problems.push(`session ${sid} is not listed by family ${id}`);
    const tokens = [...family.tokens.entries()].filter(([, token]) => token.sid === sid);
    const current = tokens.filter(([, token]) => token.st === 'current');
    const live = session.st === 'active' && core.st === 'active';
    if (session.st === 'active' && core.st !== 'active') {
      problems.push(`session ${sid} is active in ${core.st} family ${id}`);
    }
    if (current.length !== (live ? 1 : 0)) {
      problems.push(`session ${sid} (${session.st}, family ${core.st}) has ${current.length} current tokens`);
    }
    const [only] = current;
    if (current.length === 1 && only !== undefined) {
      const [hash, token] = only;
      if (token.g !== session.g) {
        problems.push(`session ${sid} is at generation ${session.g} but its current token at ${token.g}`);
      }
      if (session.ct !== hash) problems.push(`session ${sid} names another token as current`);
    }
    const generations = tokens.map(([, token]) => token.g).sort((a, b) => a - b);
    const expected = Array.from({ length: session.g + 1 }, (_, g) => g);
    if (generations.join() !== expected.join()) {
      problems.push(
        `session ${sid} at generation ${session.g} has tokens of generations [${generations.join(', ')}]`,
      );
    }
  }
  for (const token of family.tokens.values()) {
    if (!family.sessions.has(token.sid))
      problems.push(`family ${id} holds a token of unknown session ${token.sid}`);
    if (token.st !== 'rotated') continue;
    const next = token.sh === undefined ? undefined : family.tokens.get(token.sh);
    if (next === undefined || next.sid !== token.sid || next.g !== token.g + 1) {
      problems.push(
        `rotated token of session ${token.sid} at generation ${token.g} does not lead to a token of generation ${token.g + 1}`,
      );
    }
  }
  if (family.ttlMs <= 0) problems.push(`family ${id} has no TTL (${family.ttlMs})`);
  return problems;
}

/**
 * Chain violations over the given families, or over every family hash under `prefix` (SCAN, every
 * master of a cluster). A named family that is gone is a violation too.
 */
export async function chainViolations(
  client: Redis | Cluster,
  prefix: string,
  familyIds?: readonly string[],
): Promise<string[]> {
  const marker = `${prefix}:f:{`;
  const ids =
    familyIds ??
    (await keysUnder(client, prefix))
      .filter((key) => key.startsWith(marker) && key.endsWith('}'))
      .map((key) => key.slice(marker.length, -1));
  const problems: string[] = [];
  for (const familyId of ids) {
    const family = await readFamily(client, prefix, familyId);
    if (family === null) problems.push(`family ${familyId} is gone`);
    else problems.push(...familyViolations(family));
  }
  return problems;
}
