import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FamilyId, TokenHash } from '../domain/ids.js';
import { uuidv7 } from '../domain/ids.js';
import { InvalidArgumentError } from '../errors.js';
import { base64urlDecode, base64urlEncode } from '../internal/base64url.js';
import { createSeededRandom, cryptoRandom } from '../runtime/random.js';
import { createRefreshTokenHasher, generateRefreshToken } from './refresh-token.js';
import { openSuccessor, sealSuccessor } from './sealed-successor.js';

const hasher = createRefreshTokenHasher();
const clock = { now: () => 1_767_225_600_000, sleep: async () => {} };

/** An old token (its secret and stored hash) and the successor it is rotated to. */
async function rotation() {
  const familyId = uuidv7(clock, cryptoRandom) as FamilyId;
  const old = generateRefreshToken(familyId, cryptoRandom);
  const next = generateRefreshToken(familyId, cryptoRandom);
  return { oldSecret: old.secret, oldHash: await hasher.hash(old.token), successor: next.token, next };
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack).indexOf(Buffer.from(needle));
}

describe('sealSuccessor / openSuccessor', () => {
  it('round-trips: the holder of the old token gets the successor back', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    expect(sealed.startsWith('v1.')).toBe(true);
    expect(await openSuccessor({ oldSecret, oldHash, sealed })).toBe(successor);
  });

  it('round-trips any successor text, including non-ASCII', async () => {
    const { oldSecret, oldHash } = await rotation();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 300 }), async (successor) => {
        const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
        expect(await openSuccessor({ oldSecret, oldHash, sealed })).toBe(successor);
      }),
      { numRuns: 100 },
    );
  });

  it('is exactly HKDF-SHA-256 + AES-256-GCM as documented (decrypts with node:crypto)', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: createSeededRandom(1) });
    const bytes = base64urlDecode(sealed.slice(3)) as Uint8Array;
    const nonce = bytes.subarray(0, 12);
    expect(nonce).toEqual(createSeededRandom(1).bytes(12));
    const key = Buffer.from(hkdfSync('sha256', oldSecret, 'sessionkit/sealed-successor/v1', oldHash, 32));
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(Buffer.from(oldHash, 'utf8'));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    const plain = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
    expect(plain.toString('utf8')).toBe(successor);
  });

  it('opens a value sealed independently with node:crypto (same construction)', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const key = Buffer.from(hkdfSync('sha256', oldSecret, 'sessionkit/sealed-successor/v1', oldHash, 32));
    const nonce = cryptoRandom.bytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(oldHash, 'utf8'));
    const body = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const sealed = `v1.${base64urlEncode(new Uint8Array(Buffer.concat([nonce, body])))}`;
    expect(await openSuccessor({ oldSecret, oldHash, sealed })).toBe(successor);
  });

  it('does not open with the wrong old secret', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    expect(await openSuccessor({ oldSecret: cryptoRandom.bytes(32), oldHash, sealed })).toBeNull();
    // One flipped bit of the secret is as good as a random one.
    const nearly = oldSecret.slice();
    nearly[31] = (nearly[31] as number) ^ 1;
    expect(await openSuccessor({ oldSecret: nearly, oldHash, sealed })).toBeNull();
    // Knowing only the stored hash (what a database thief has) is not enough either.
    const hashAsSecret = base64urlDecode(oldHash) as Uint8Array;
    expect(hashAsSecret).toHaveLength(32);
    expect(await openSuccessor({ oldSecret: hashAsSecret, oldHash, sealed })).toBeNull();
  });

  it('does not open under a different old hash (value moved to another record)', async () => {
    const a = await rotation();
    const b = await rotation();
    const sealed = await sealSuccessor({ ...a, random: cryptoRandom });
    expect(await openSuccessor({ oldSecret: a.oldSecret, oldHash: b.oldHash, sealed })).toBeNull();
  });

  it('rejects the right key with only the AAD changed', async () => {
    // Encrypt with node:crypto under the right HKDF key for oldHash but with other additional data:
    // only the GCM additional-data binding can reject this one.
    const { oldSecret, oldHash, successor } = await rotation();
    const key = Buffer.from(hkdfSync('sha256', oldSecret, 'sessionkit/sealed-successor/v1', oldHash, 32));
    const nonce = cryptoRandom.bytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from('some other hash', 'utf8'));
    const body = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    const sealed = `v1.${base64urlEncode(new Uint8Array(Buffer.concat([nonce, body])))}`;
    expect(await openSuccessor({ oldSecret, oldHash, sealed })).toBeNull();
  });

  it('detects a flipped bit in every byte: nonce, ciphertext and tag', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    const bytes = base64urlDecode(sealed.slice(3)) as Uint8Array;
    expect(bytes).toHaveLength(12 + new TextEncoder().encode(successor).length + 16);
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const tampered = bytes.slice();
        tampered[i] = (tampered[i] as number) ^ bit;
        const result = await openSuccessor({ oldSecret, oldHash, sealed: `v1.${base64urlEncode(tampered)}` });
        expect(result, `byte ${i} bit ${bit}`).toBeNull();
      }
    }
  });

  it('returns null for malformed input and never throws', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    const body = sealed.slice(3);
    const minimal = `v1.${base64urlEncode(new Uint8Array(28))}`;
    const cases: Record<string, unknown> = {
      'other version': `v2.${body}`,
      'no version': body,
      'uppercase version': `V1.${body}`,
      'bad base64url': `v1.${body.slice(0, -1)}=`,
      'standard base64 chars': `v1.+/${body.slice(2)}`,
      'dangling char': `v1.${body}A`,
      'truncated tag': `v1.${body.slice(0, -4)}`,
      'shorter than nonce + tag': `v1.${base64urlEncode(new Uint8Array(27))}`,
      'exactly nonce + tag of zeros': minimal,
      empty: '',
      'prefix only': 'v1.',
      'extra segment': `${sealed}.x`,
      undefined: undefined,
      number: 1,
    };
    for (const [name, input] of Object.entries(cases)) {
      expect(await openSuccessor({ oldSecret, oldHash, sealed: input as string }), name).toBeNull();
    }
    expect(await openSuccessor({ oldSecret: new Uint8Array(0), oldHash, sealed })).toBeNull();
    expect(await openSuccessor({ oldSecret: oldSecret.subarray(0, 16), oldHash, sealed })).toBeNull();
    expect(await openSuccessor({ oldSecret, oldHash: undefined as unknown as TokenHash, sealed })).toBeNull();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `v1.${s}`),
        ),
        async (text) => {
          expect(await openSuccessor({ oldSecret, oldHash, sealed: text })).toBeNull();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the successor and its secret out of the sealed value', async () => {
    const { oldSecret, oldHash, successor, next } = await rotation();
    const sealed = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    const secretText = base64urlEncode(next.secret);
    expect(sealed).not.toContain(successor);
    expect(sealed).not.toContain(secretText.slice(0, 12));
    expect(sealed).not.toContain(secretText.slice(-12));
    const bytes = base64urlDecode(sealed.slice(3)) as Uint8Array;
    expect(indexOf(bytes, new TextEncoder().encode(successor))).toBe(-1);
    expect(indexOf(bytes, new TextEncoder().encode(secretText.slice(0, 8)))).toBe(-1);
    expect(indexOf(bytes, next.secret.subarray(0, 8))).toBe(-1);
    // Nor the old secret, the key input.
    expect(indexOf(bytes, oldSecret.subarray(0, 8))).toBe(-1);
  });

  it('uses a fresh nonce: sealing the same successor twice gives different values', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    const first = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    const second = await sealSuccessor({ oldSecret, oldHash, successor, random: cryptoRandom });
    expect(first).not.toBe(second);
    expect(first.slice(3, 19)).not.toBe(second.slice(3, 19));
    expect(await openSuccessor({ oldSecret, oldHash, sealed: first })).toBe(successor);
    expect(await openSuccessor({ oldSecret, oldHash, sealed: second })).toBe(successor);
  });

  it('refuses an old secret that is not 32 bytes and a random source that returns a short nonce', async () => {
    const { oldSecret, oldHash, successor } = await rotation();
    await expect(
      sealSuccessor({ oldSecret: oldSecret.subarray(0, 31), oldHash, successor, random: cryptoRandom }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    const short = { bytes: (n: number) => new Uint8Array(n - 1) };
    await expect(sealSuccessor({ oldSecret, oldHash, successor, random: short })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});
