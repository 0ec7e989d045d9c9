/**
 * Key layout of the Redis repository. Everything a family owns — the family record, its sessions,
 * every refresh-token record and the leases — lives in ONE hash, `<prefix>:f:{<familyId>}`, whose
 * hash tag is the family id the refresh token carries (DESIGN §3). Every decision therefore runs as
 * one script on one key in one slot, on a standalone server and on a cluster alike.
 *
 * Two other kinds of key live in other slots, and are written *before* the family hash so that a
 * family is never stored without them (a crash in between leaves only entries that point at
 * nothing, which readers drop when they see them):
 * - `<prefix>:s:<sessionId>` → family id: routes the calls that only know a session id;
 * - `<prefix>:u:{<sha256(subject)>}`: the subject registry, a sorted set of family ids scored by
 *   creation time (and its `…:lock` for `create` with a session limit).
 */

import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '@sessionkit/sessions-core';

/** Ids and hashes the repository accepts as key material: what sessionkit mints, nothing else. */
const KEY_MATERIAL = /^[A-Za-z0-9_-]{1,128}$/;
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** True for a value that can be part of a key (ids are UUIDs, hashes base64url or hex). */
export function isKeyMaterial(value: unknown): value is string {
  return typeof value === 'string' && KEY_MATERIAL.test(value);
}

/** Throws unless `value` can be part of a key; the message names the field, never the value. */
export function assertKeyMaterial(value: unknown, field: string): asserts value is string {
  if (!isKeyMaterial(value)) {
    throw new InvalidArgumentError(`${field} must be 1–128 characters of [A-Za-z0-9_-]`);
  }
}

/** The key names of one repository prefix. */
export interface KeyLayout {
  readonly prefix: string;
  family(familyId: string): string;
  session(sessionId: string): string;
  subject(subject: string): string;
  subjectLock(subject: string): string;
  /** Counters (`expired`), with a long TTL refreshed on every write. */
  readonly stats: string;
  /**
   * The key check: one field per encryption key id, a short record sealed under that key. A
   * repository opens it before its first call, so a wrong key (or no key for an encrypted store)
   * refuses to work before it writes anything.
   */
  readonly keyCheck: string;
  /** `SCAN` pattern of every family hash. */
  readonly familyPattern: string;
}

/** Builds the key layout for `prefix` (default `sk`). */
export function keyLayout(prefix = 'sk'): KeyLayout {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidArgumentError('prefix must be 1–64 characters of [A-Za-z0-9_.:-]');
  }
  const subjectTag = (subject: string) => createHash('sha256').update(subject, 'utf8').digest('base64url');
  return {
    prefix,
    family: (familyId) => `${prefix}:f:{${familyId}}`,
    session: (sessionId) => `${prefix}:s:${sessionId}`,
    subject: (subject) => `${prefix}:u:{${subjectTag(subject)}}`,
    subjectLock: (subject) => `${prefix}:u:{${subjectTag(subject)}}:lock`,
    stats: `${prefix}:stats`,
    keyCheck: `${prefix}:keycheck`,
    familyPattern: `${prefix}:f:{*}`,
  };
}
