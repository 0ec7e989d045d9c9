/**
 * The refresh token format and the only form it is ever stored in. A token is
 * `skr_<familyId>.<secret>`: the family id (a lowercase UUIDv7) routes the lookup to the right
 * store shard, and the secret is 32 CSPRNG bytes in canonical base64url. The store keeps only a
 * SHA-256 of the whole token (HMAC-SHA-256 with a server pepper when one is configured), so a
 * leaked table cannot be replayed; hashes are compared in constant time and logged only as short
 * handles. Parsing treats its input as hostile: it never throws and rejects oversized input first.
 */

import type { FamilyId, TokenHandle, TokenHash } from '../domain/ids.js';
import { isUuidV7 } from '../domain/ids.js';
import { ConfigError, CryptoError, InvalidArgumentError } from '../errors.js';
import { base64urlDecode, base64urlEncode } from '../internal/base64url.js';
import { constantTimeEqualString } from '../internal/constant-time.js';
import { symmetricCrypto } from '../internal/crypto.js';
import type { RandomSource } from '../runtime/random.js';

/** Every refresh token starts with this, so secret scanners and humans can recognise one. */
export const REFRESH_TOKEN_PREFIX = 'skr_';
/** Longer input is rejected before any other work is done on it. */
export const MAX_REFRESH_TOKEN_LENGTH = 256;
/** Bytes of CSPRNG output in a refresh token's secret. */
export const REFRESH_SECRET_BYTES = 32;

/** Minimum HMAC pepper size: a pepper shorter than the hash output adds less than it seems to. */
const MIN_PEPPER_BYTES = 32;
const UUID_LENGTH = 36;
/** 32 bytes in unpadded base64url. */
const SECRET_TEXT_LENGTH = Math.ceil((REFRESH_SECRET_BYTES * 4) / 3);
/** `skr_` + UUID + `.` + secret: every well-formed token has exactly this length. */
const TOKEN_LENGTH = REFRESH_TOKEN_PREFIX.length + UUID_LENGTH + 1 + SECRET_TEXT_LENGTH;

const utf8 = new TextEncoder();

/**
 * Builds the text form of a refresh token from its parts.
 *
 * @throws InvalidArgumentError when `familyId` is not a lowercase UUIDv7 or `secret` is not
 *   {@link REFRESH_SECRET_BYTES} bytes (the message never includes the secret).
 * @example
 * ```ts
 * const token = formatRefreshToken(familyId, secret); // 'skr_0193….q1w2…'
 * ```
 */
export function formatRefreshToken(familyId: FamilyId, secret: Uint8Array): string {
  if (!isUuidV7(familyId)) {
    throw new InvalidArgumentError('formatRefreshToken: familyId must be a lowercase UUIDv7 string');
  }
  if (!(secret instanceof Uint8Array) || secret.length !== REFRESH_SECRET_BYTES) {
    throw new InvalidArgumentError(
      `formatRefreshToken: secret must be a Uint8Array of exactly ${REFRESH_SECRET_BYTES} bytes`,
    );
  }
  return `${REFRESH_TOKEN_PREFIX}${familyId}.${base64urlEncode(secret)}`;
}

/**
 * Creates a fresh refresh token for a family with a {@link REFRESH_SECRET_BYTES}-byte secret from
 * `random`.
 *
 * @example
 * ```ts
 * const { token } = generateRefreshToken(familyId, cryptoRandom);
 * const hash = await hasher.hash(token); // store this, hand `token` to the client
 * ```
 */
export function generateRefreshToken(
  familyId: FamilyId,
  random: RandomSource,
): { token: string; secret: Uint8Array } {
  const secret = random.bytes(REFRESH_SECRET_BYTES);
  return { token: formatRefreshToken(familyId, secret), secret };
}

/**
 * Splits a presented refresh token into its family id and secret. Returns `null` — never throws —
 * for anything that is not exactly the format {@link formatRefreshToken} produces: non-strings,
 * input longer than {@link MAX_REFRESH_TOKEN_LENGTH} (checked first), a wrong prefix, a family id
 * that is not a lowercase UUIDv7, a secret that is not canonical base64url of 32 bytes, or extra
 * segments.
 *
 * @example
 * ```ts
 * const parsed = parseRefreshToken(request.body.refresh_token);
 * if (parsed === null) return { type: 'rejected', reason: 'malformed' };
 * ```
 */
export function parseRefreshToken(token: unknown): { familyId: FamilyId; secret: Uint8Array } | null {
  if (typeof token !== 'string' || token.length > MAX_REFRESH_TOKEN_LENGTH) return null;
  if (token.length !== TOKEN_LENGTH || !token.startsWith(REFRESH_TOKEN_PREFIX)) return null;
  const dot = REFRESH_TOKEN_PREFIX.length + UUID_LENGTH;
  if (token.charCodeAt(dot) !== 0x2e /* '.' */) return null;
  const familyId = token.slice(REFRESH_TOKEN_PREFIX.length, dot);
  if (!isUuidV7(familyId)) return null;
  // A second '.' or any other stray character fails the strict alphabet check here.
  const secret = base64urlDecode(token.slice(dot + 1));
  if (secret === null || secret.length !== REFRESH_SECRET_BYTES) return null;
  return { familyId: familyId as FamilyId, secret };
}

/** Turns a refresh token into the only form the store ever sees. */
export interface RefreshTokenHasher {
  /** Base64url SHA-256 (or HMAC-SHA-256 with the pepper) of the UTF-8 bytes of the whole token. */
  hash(token: string): Promise<TokenHash>;
}

/**
 * Creates the token hasher: SHA-256 of the whole token, or HMAC-SHA-256 keyed with `pepper` when
 * given. A pepper kept outside the database means a stolen table cannot even be used to check
 * guesses.
 *
 * @throws ConfigError when `pepper` is shorter than 32 bytes.
 * @example
 * ```ts
 * const hasher = createRefreshTokenHasher({ pepper: pepperBytes }); // >= 32 bytes, kept out of the DB
 * const hash = await hasher.hash(token);
 * ```
 */
export function createRefreshTokenHasher(options?: { pepper?: Uint8Array | undefined }): RefreshTokenHasher {
  const pepper = options?.pepper;
  if (pepper === undefined) {
    return {
      async hash(token) {
        try {
          return base64urlEncode(await symmetricCrypto().sha256(utf8.encode(token))) as TokenHash;
        } catch (error) {
          throw new CryptoError('refresh token hashing (SHA-256) failed', { cause: error });
        }
      },
    };
  }
  if (!(pepper instanceof Uint8Array) || pepper.length < MIN_PEPPER_BYTES) {
    throw new ConfigError(`refresh token pepper must be at least ${MIN_PEPPER_BYTES} bytes`, [
      { path: 'pepper', message: `must be a Uint8Array of at least ${MIN_PEPPER_BYTES} bytes` },
    ]);
  }
  // The backend copies the key, so a caller reusing its buffer cannot change it after validation.
  const mac = symmetricCrypto().hmacSha256(pepper);
  return {
    async hash(token) {
      try {
        return base64urlEncode(await mac(utf8.encode(token))) as TokenHash;
      } catch (error) {
        throw new CryptoError('refresh token hashing (HMAC-SHA-256) failed', { cause: error });
      }
    },
  };
}

/**
 * A short name for a token, safe for logs and events: 96 bits of its hash, enough to correlate,
 * it cannot be turned back into the token or presented in its place.
 *
 * @example
 * ```ts
 * emit({ type: 'session.renewed', token: tokenHandle(newHash), previous: tokenHandle(oldHash) });
 * ```
 */
export function tokenHandle(hash: TokenHash): TokenHandle {
  return `rt_${hash.slice(0, 16)}` as TokenHandle;
}

/**
 * Compares two token hashes in constant time.
 *
 * @example
 * ```ts
 * if (!hashesEqual(record.hash, presentedHash)) return null;
 * ```
 */
export function hashesEqual(a: TokenHash, b: TokenHash): boolean {
  return constantTimeEqualString(a, b);
}
