import { Buffer } from 'node:buffer';
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FamilyId, TokenHash } from '../domain/ids.js';
import { uuidv7 } from '../domain/ids.js';
import { ConfigError, InvalidArgumentError } from '../errors.js';
import { base64urlEncode } from '../internal/base64url.js';
import { webCrypto } from '../internal/crypto.js';
import { createSeededRandom, cryptoRandom } from '../runtime/random.js';
import {
  createRefreshTokenHasher,
  formatRefreshToken,
  generateRefreshToken,
  hashesEqual,
  MAX_REFRESH_TOKEN_LENGTH,
  parseRefreshToken,
  REFRESH_SECRET_BYTES,
  REFRESH_TOKEN_PREFIX,
  tokenHandle,
} from './refresh-token.js';

const clockAt = (ms: number) => ({ now: () => ms, sleep: async () => {} });
const newFamilyId = (ms = 1_767_225_600_000, random = cryptoRandom) =>
  uuidv7(clockAt(ms), random) as FamilyId;

const familyIdArb = fc
  .tuple(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.integer())
  .map(([ms, seed]) => newFamilyId(ms, createSeededRandom(seed)));
const secretArb = fc.uint8Array({ minLength: REFRESH_SECRET_BYTES, maxLength: REFRESH_SECRET_BYTES });

const validToken = () => generateRefreshToken(newFamilyId(), cryptoRandom).token;

describe('constants', () => {
  it('match the documented format', () => {
    expect(REFRESH_TOKEN_PREFIX).toBe('skr_');
    expect(MAX_REFRESH_TOKEN_LENGTH).toBe(256);
    expect(REFRESH_SECRET_BYTES).toBe(32);
  });
});

describe('formatRefreshToken / parseRefreshToken', () => {
  it('produces skr_<familyId>.<43-char base64url secret>', () => {
    const familyId = newFamilyId();
    const secret = cryptoRandom.bytes(32);
    const token = formatRefreshToken(familyId, secret);
    expect(token).toBe(`skr_${familyId}.${Buffer.from(secret).toString('base64url')}`);
    expect(token).toMatch(/^skr_[0-9a-f-]{36}\.[A-Za-z0-9_-]{43}$/);
  });

  it('round-trips any 32-byte secret and any UUIDv7 family id', () => {
    fc.assert(
      fc.property(familyIdArb, secretArb, (familyId, secret) => {
        const parsed = parseRefreshToken(formatRefreshToken(familyId, secret));
        expect(parsed).not.toBeNull();
        expect(parsed?.familyId).toBe(familyId);
        expect(parsed?.secret).toEqual(secret);
      }),
      { numRuns: 1_000 },
    );
  });

  it('never throws on any input; anything it accepts is exactly a formatted token', () => {
    const mutated = fc
      .tuple(familyIdArb, secretArb, fc.nat(), fc.string({ maxLength: 300 }))
      .chain(([familyId, secret, n, junk]) => {
        const token = formatRefreshToken(familyId, secret);
        const at = n % (token.length + 1);
        return fc.constantFrom(
          token,
          token.slice(0, at),
          `${token.slice(0, at)}.${token.slice(at)}`,
          `${token}.`,
          `${token}.${junk}`,
          `SKR_${token.slice(4)}`,
          `skr-${token.slice(4)}`,
          `${junk}${token}`,
          `${token}${junk}`,
          token.padEnd(MAX_REFRESH_TOKEN_LENGTH + 1, 'A'),
          token.slice(0, at) + junk.slice(0, 1) + token.slice(at + 1),
          token.toUpperCase(),
        );
      });
    const anything = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: 'grapheme', maxLength: 300 }),
      mutated,
      fc.anything(),
    );
    fc.assert(
      fc.property(anything, (input) => {
        const parsed = parseRefreshToken(input);
        if (parsed !== null) expect(formatRefreshToken(parsed.familyId, parsed.secret)).toBe(input);
      }),
      { numRuns: 3_000 },
    );
  });

  it('rejects each kind of malformed token', () => {
    const familyId = newFamilyId();
    const secretText = base64urlEncode(cryptoRandom.bytes(32));
    const token = `skr_${familyId}.${secretText}`;
    expect(parseRefreshToken(token)).not.toBeNull();
    const v4 = globalThis.crypto.randomUUID();
    const cases: Record<string, unknown> = {
      'wrong prefix (case)': `SKR_${familyId}.${secretText}`,
      'wrong prefix (separator)': `skr-${familyId}.${secretText}`,
      'no prefix': `${familyId}.${secretText}`,
      'uppercase family id': `skr_${familyId.toUpperCase()}.${secretText}`,
      'UUIDv4 family id': `skr_${v4}.${secretText}`,
      'family id without dashes': `skr_${familyId.replaceAll('-', '')}xxxx.${secretText}`,
      'secret of 42 chars': `skr_${familyId}.${secretText.slice(0, 42)}`,
      'secret of 31 bytes': `skr_${familyId}.${base64urlEncode(cryptoRandom.bytes(31))}`,
      'secret of 33 bytes': `skr_${familyId}.${base64urlEncode(cryptoRandom.bytes(33))}`,
      'secret with padding': `skr_${familyId}.${secretText}=`,
      'secret in standard base64': `skr_${familyId}.${Buffer.from(new Uint8Array(32).fill(0xfb)).toString('base64').slice(0, 43)}`,
      'extra segment': `${token}.x`,
      'extra dot': `${token}.`,
      'dot instead of dash in id': `skr_${familyId.replace('-', '.')}.${secretText}`,
      'missing dot': `skr_${familyId}${secretText}`,
      whitespace: ` ${token}`,
      'trailing newline': `${token}\n`,
      'over 256 chars': token + 'A'.repeat(MAX_REFRESH_TOKEN_LENGTH + 1 - token.length),
      huge: token + 'A'.repeat(10_000_000),
      empty: '',
      'prefix only': 'skr_',
      undefined: undefined,
      null: null,
      number: 42,
      object: { token },
      'String object': new String(token),
      bytes: new TextEncoder().encode(token),
    };
    for (const [name, input] of Object.entries(cases)) {
      expect(parseRefreshToken(input), name).toBeNull();
    }
  });

  it('rejects a non-canonical secret that decodes to the same bytes (no second spelling)', () => {
    const familyId = newFamilyId();
    // 32 bytes = 43 chars; the last char carries 4 data bits and 2 unused bits.
    const secretText = base64urlEncode(new Uint8Array(32));
    expect(secretText.endsWith('A')).toBe(true);
    const lenient = `${secretText.slice(0, 42)}B`;
    // Node decodes both spellings to the same 32 bytes; the parser must accept only one.
    expect(Buffer.from(lenient, 'base64url')).toEqual(Buffer.alloc(32));
    expect(parseRefreshToken(`skr_${familyId}.${lenient}`)).toBeNull();
    expect(parseRefreshToken(`skr_${familyId}.${secretText}`)).not.toBeNull();
  });

  it('formatRefreshToken throws InvalidArgumentError for a wrong-size secret without revealing it', () => {
    const familyId = newFamilyId();
    for (const size of [0, 16, 31, 33, 64]) {
      const secret = cryptoRandom.bytes(size);
      let caught: unknown;
      try {
        formatRefreshToken(familyId, secret);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InvalidArgumentError);
      const message = (caught as Error).message;
      expect((caught as InvalidArgumentError).code).toBe('invalid_argument');
      if (size > 0) {
        expect(message).not.toContain(base64urlEncode(secret).slice(0, 8));
        expect(message).not.toContain(Buffer.from(secret).toString('hex').slice(0, 8));
        expect(message).not.toContain(Buffer.from(secret).toString('base64').slice(0, 8));
      }
    }
  });

  it('formatRefreshToken throws InvalidArgumentError for a family id that is not a lowercase UUIDv7', () => {
    const secret = cryptoRandom.bytes(32);
    const familyId = newFamilyId();
    for (const bad of [globalThis.crypto.randomUUID(), familyId.toUpperCase(), '', 'family-1']) {
      expect(() => formatRefreshToken(bad as FamilyId, secret)).toThrow(InvalidArgumentError);
    }
  });
});

describe('generateRefreshToken', () => {
  it('draws the 32-byte secret from the given random source', () => {
    const familyId = newFamilyId();
    const { token, secret } = generateRefreshToken(familyId, createSeededRandom(11));
    expect(secret).toEqual(createSeededRandom(11).bytes(32));
    expect(parseRefreshToken(token)).toEqual({ familyId, secret });
  });

  it('is reproducible with a seeded source', () => {
    const familyId = newFamilyId();
    expect(generateRefreshToken(familyId, createSeededRandom(3)).token).toBe(
      generateRefreshToken(familyId, createSeededRandom(3)).token,
    );
  });

  it('never repeats a secret: 10 000 tokens from cryptoRandom are all distinct', () => {
    const familyId = newFamilyId();
    const tokens = new Set<string>();
    const secrets = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const { token, secret } = generateRefreshToken(familyId, cryptoRandom);
      tokens.add(token);
      secrets.add(base64urlEncode(secret));
    }
    expect(tokens.size).toBe(10_000);
    expect(secrets.size).toBe(10_000);
  });

  it('refuses a random source that returns the wrong number of bytes', () => {
    const short = { bytes: (n: number) => new Uint8Array(n - 1) };
    expect(() => generateRefreshToken(newFamilyId(), short)).toThrow(InvalidArgumentError);
  });
});

describe('createRefreshTokenHasher', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is SHA-256 of the whole token, base64url (matches node:crypto)', async () => {
    const hasher = createRefreshTokenHasher();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(null).map(() => validToken()),
          fc.string({ unit: 'binary', maxLength: 300 }),
        ),
        async (token) => {
          const hash = await hasher.hash(token);
          expect(hash).toBe(createHash('sha256').update(token, 'utf8').digest('base64url'));
          expect(hash).toHaveLength(43);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is HMAC-SHA-256 keyed with the pepper when one is given (matches node:crypto)', async () => {
    const pepper = cryptoRandom.bytes(32);
    const hasher = createRefreshTokenHasher({ pepper });
    const token = validToken();
    expect(await hasher.hash(token)).toBe(createHmac('sha256', pepper).update(token).digest('base64url'));
  });

  it('hashes the whole token: same secret in another family hashes differently', async () => {
    const secret = cryptoRandom.bytes(32);
    const hasher = createRefreshTokenHasher();
    const a = await hasher.hash(formatRefreshToken(newFamilyId(), secret));
    const b = await hasher.hash(formatRefreshToken(newFamilyId(), secret));
    expect(a).not.toBe(b);
  });

  it('is deterministic, and differs with vs without a pepper and between peppers', async () => {
    const token = validToken();
    const plain = createRefreshTokenHasher();
    const peppered = createRefreshTokenHasher({ pepper: new Uint8Array(32).fill(1) });
    const otherPepper = createRefreshTokenHasher({ pepper: new Uint8Array(32).fill(2) });
    expect(await plain.hash(token)).toBe(await plain.hash(token));
    expect(await createRefreshTokenHasher().hash(token)).toBe(await plain.hash(token));
    expect(await peppered.hash(token)).toBe(await peppered.hash(token));
    expect(await peppered.hash(token)).not.toBe(await plain.hash(token));
    expect(await peppered.hash(token)).not.toBe(await otherPepper.hash(token));
    expect(await createRefreshTokenHasher({ pepper: undefined }).hash(token)).toBe(await plain.hash(token));
  });

  it('throws ConfigError for a pepper shorter than 32 bytes', () => {
    for (const size of [0, 1, 16, 31]) {
      let caught: unknown;
      try {
        createRefreshTokenHasher({ pepper: new Uint8Array(size).fill(7) });
      } catch (error) {
        caught = error;
      }
      expect(caught, `pepper of ${size} bytes`).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).code).toBe('invalid_config');
      expect((caught as Error).message).toMatch(/pepper must be at least 32 bytes/);
    }
    expect(() => createRefreshTokenHasher({ pepper: new Uint8Array(32) })).not.toThrow();
    expect(() => createRefreshTokenHasher({ pepper: new Uint8Array(64) })).not.toThrow();
  });

  it('copies the pepper: mutating the caller buffer later does not change hashes', async () => {
    const pepper = new Uint8Array(32).fill(9);
    const hasher = createRefreshTokenHasher({ pepper });
    const token = validToken();
    pepper.fill(0);
    expect(await hasher.hash(token)).toBe(
      createHmac('sha256', new Uint8Array(32).fill(9)).update(token).digest('base64url'),
    );
  });

  it('with the Web Crypto backend, imports the HMAC key lazily and only once, even under concurrent first use', async () => {
    const importKey = vi.spyOn(globalThis.crypto.subtle, 'importKey');
    const mac = webCrypto().hmacSha256(cryptoRandom.bytes(32));
    expect(importKey).not.toHaveBeenCalled();
    await Promise.all(Array.from({ length: 10 }, () => mac(cryptoRandom.bytes(16))));
    await mac(cryptoRandom.bytes(16));
    expect(importKey).toHaveBeenCalledTimes(1);
    importKey.mockRestore();
  });
});

describe('tokenHandle', () => {
  it("is 'rt_' plus the first 16 chars of the hash", async () => {
    const hash = await createRefreshTokenHasher().hash(validToken());
    const handle = tokenHandle(hash);
    expect(handle).toBe(`rt_${hash.slice(0, 16)}`);
    expect(handle).toHaveLength(19);
  });

  it('contains no part of the token: no 6-char run of the secret or the token', async () => {
    const hasher = createRefreshTokenHasher();
    for (let i = 0; i < 200; i++) {
      const { token } = generateRefreshToken(newFamilyId(), cryptoRandom);
      const handle = tokenHandle(await hasher.hash(token));
      for (let at = 0; at + 6 <= token.length; at++) {
        expect(handle).not.toContain(token.slice(at, at + 6));
      }
    }
  });
});

describe('hashesEqual', () => {
  it('compares hashes exactly', async () => {
    const hasher = createRefreshTokenHasher();
    const a = await hasher.hash(validToken());
    const b = await hasher.hash(validToken());
    expect(hashesEqual(a, `${a}` as TokenHash)).toBe(true);
    expect(hashesEqual(a, b)).toBe(false);
    expect(hashesEqual(a, `${a.slice(0, 42)}${a.endsWith('A') ? 'B' : 'A'}` as TokenHash)).toBe(false);
    expect(hashesEqual(a, a.slice(0, 42) as TokenHash)).toBe(false);
    expect(hashesEqual(a, `${a}A` as TokenHash)).toBe(false);
  });
});
