/**
 * Sealing a rotated token's successor so a retry can get the same successor back without the store
 * ever holding it in plain text (DESIGN §4, "Idempotent retry without plaintext at rest"). When a
 * refresh token is rotated, its successor is encrypted with AES-256-GCM under a key derived by
 * HKDF-SHA-256 from the *old* token's secret, and the sealed form is kept on the old record until
 * the grace window closes. The store holds only hashes and this ciphertext; the old secret is not
 * stored anywhere, so only a client that still holds the old token (a parallel tab, a retry after a
 * lost response) can open it and receive the very same successor, and the chain never forks. The
 * old token's hash is bound in twice — as HKDF `info` and as GCM additional data — so a sealed
 * value moved to another record does not open. Opening treats its input as untrusted: any failure
 * is `null`, never a throw.
 */

import type { TokenHash } from '../domain/ids.js';
import { CryptoError, InvalidArgumentError } from '../errors.js';
import { base64urlDecode, base64urlEncode } from '../internal/base64url.js';
import { symmetricCrypto } from '../internal/crypto.js';
import type { RandomSource } from '../runtime/random.js';
import { REFRESH_SECRET_BYTES } from './refresh-token.js';

const VERSION_PREFIX = 'v1.';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const HKDF_SALT = utf8.encode('sessionkit/sealed-successor/v1');

/** Derives the AES-256-GCM key for one old token: HKDF-SHA-256(ikm = old secret, info = old hash). */
function deriveKey(oldSecret: Uint8Array, oldHash: TokenHash): Promise<Uint8Array> {
  return symmetricCrypto().hkdfSha256(oldSecret, HKDF_SALT, utf8.encode(oldHash));
}

/**
 * Encrypts `successor` (the new refresh token) so that only a holder of the old token can read it.
 * Returns `'v1.' + base64url(nonce || ciphertext || tag)`.
 *
 * @throws InvalidArgumentError when `oldSecret` is not 32 bytes or `random` returns the wrong length.
 * @example
 * ```ts
 * const sealed = await sealSuccessor({ oldSecret, oldHash, successor: next.token, random });
 * await repository.rotate({ ...cas, sealedSuccessor: sealed });
 * ```
 */
export async function sealSuccessor(input: {
  oldSecret: Uint8Array;
  oldHash: TokenHash;
  successor: string;
  random: RandomSource;
}): Promise<string> {
  const { oldSecret, oldHash, successor, random } = input;
  if (!(oldSecret instanceof Uint8Array) || oldSecret.length !== REFRESH_SECRET_BYTES) {
    throw new InvalidArgumentError(`sealSuccessor: oldSecret must be exactly ${REFRESH_SECRET_BYTES} bytes`);
  }
  const nonce = random.bytes(NONCE_BYTES).slice();
  if (nonce.length !== NONCE_BYTES) {
    throw new InvalidArgumentError(`sealSuccessor: random source returned ${nonce.length} bytes, not 12`);
  }
  let sealed: Uint8Array;
  try {
    const key = await deriveKey(oldSecret, oldHash);
    sealed = await symmetricCrypto().aesGcmEncrypt(key, nonce, utf8.encode(successor), utf8.encode(oldHash));
  } catch (error) {
    throw new CryptoError('sealSuccessor: encryption failed', { cause: error });
  }
  const out = new Uint8Array(NONCE_BYTES + sealed.byteLength);
  out.set(nonce, 0);
  out.set(sealed, NONCE_BYTES);
  return VERSION_PREFIX + base64urlEncode(out);
}

/**
 * Opens a value made by {@link sealSuccessor}. Returns the successor token, or `null` — never
 * throws — for an unknown version, bad base64url, input too short to hold a nonce and tag, the
 * wrong old secret, a different old hash, or any tampering.
 *
 * @example
 * ```ts
 * const { secret } = parsedOldToken;
 * const successor = await openSuccessor({ oldSecret: secret, oldHash, sealed: record.sealedSuccessor });
 * if (successor === null) return replayDetected();
 * ```
 */
export async function openSuccessor(input: {
  oldSecret: Uint8Array;
  oldHash: TokenHash;
  sealed: string;
}): Promise<string | null> {
  try {
    const { oldSecret, oldHash, sealed } = input;
    if (typeof sealed !== 'string' || !sealed.startsWith(VERSION_PREFIX)) return null;
    if (!(oldSecret instanceof Uint8Array) || oldSecret.length !== REFRESH_SECRET_BYTES) return null;
    if (typeof oldHash !== 'string') return null;
    const bytes = base64urlDecode(sealed.slice(VERSION_PREFIX.length));
    if (bytes === null || bytes.length < NONCE_BYTES + TAG_BYTES) return null;
    const key = await deriveKey(oldSecret, oldHash);
    const plain = await symmetricCrypto().aesGcmDecrypt(
      key,
      bytes.subarray(0, NONCE_BYTES),
      bytes.subarray(NONCE_BYTES),
      utf8.encode(oldHash),
    );
    return plain === null ? null : new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    // Authentication failure (wrong key, wrong AAD, tampering) and any other fault mean "cannot open".
    return null;
  }
}
