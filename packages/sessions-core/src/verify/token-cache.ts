/**
 * The optional verified-token cache: a bounded LRU from a SHA-256 digest of the token (never the
 * token itself) to the claims it verified to. It only saves the signature check and parsing; every
 * hit is revalidated by the verifier — the entry dies at the token's `exp`, when its key leaves the
 * key source, and when its session is revoked — so caching never keeps a token alive that a fresh
 * verification would refuse.
 */

import { base64urlEncode } from '../internal/base64url.js';
import { builtinNodeCrypto } from '../internal/crypto.js';
import type { AccessTokenClaims, VerificationKey } from './types.js';

/** One cached verification. */
export interface CachedVerification {
  readonly claims: AccessTokenClaims;
  /** The key object that verified the signature; the entry is void once the source stops returning it. */
  readonly key: VerificationKey;
  /** `exp` in epoch milliseconds: the entry dies then. */
  readonly expiresAt: number;
}

/** A bounded least-recently-used map. */
export interface VerifiedTokenCache {
  get(digest: string): CachedVerification | undefined;
  set(digest: string, entry: CachedVerification): void;
  delete(digest: string): void;
  readonly size: number;
}

/** Creates an LRU holding at most `maxEntries` verifications. */
export function createVerifiedTokenCache(maxEntries: number): VerifiedTokenCache {
  const entries = new Map<string, CachedVerification>();
  return {
    get(digest) {
      const entry = entries.get(digest);
      if (entry !== undefined) {
        // Refresh recency: Map iteration order is insertion order, so the first key is the LRU one.
        entries.delete(digest);
        entries.set(digest, entry);
      }
      return entry;
    },
    set(digest, entry) {
      entries.delete(digest);
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(digest, entry);
    },
    delete(digest) {
      entries.delete(digest);
    },
    get size() {
      return entries.size;
    },
  };
}

/** Computes the cache key of a token: SHA-256, base64url. */
export type TokenDigest = (token: string) => string | Promise<string>;

interface NodeHashModule {
  hash?(algorithm: 'sha256', data: string, encoding: 'base64url'): string;
  createHash(algorithm: 'sha256'): { update(data: string): { digest(encoding: 'base64url'): string } };
}

const utf8 = new TextEncoder();

/** The fastest SHA-256 this runtime offers: synchronous `node:crypto` where present, Web Crypto elsewhere. */
export function defaultTokenDigest(): TokenDigest {
  const node = builtinNodeCrypto() as unknown as NodeHashModule | undefined;
  if (node !== undefined) {
    const oneShot = node.hash;
    if (typeof oneShot === 'function') return (token) => oneShot('sha256', token, 'base64url');
    return (token) => node.createHash('sha256').update(token).digest('base64url');
  }
  return async (token) =>
    base64urlEncode(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', utf8.encode(token))));
}
