/**
 * Differential tests: the Node fast path (`crypto.verify` on a KeyObject) must accept and reject
 * exactly what the portable Web Crypto path does. A fuzz corpus of valid, tampered and malformed
 * tokens for every algorithm goes through two verifiers that differ only in their signature backend,
 * and every outcome (accepted, or the refusal code) must match.
 */

import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { base64urlDecode, base64urlEncode } from '../internal/base64url.js';
import { generateSigningKey, type SigningAlgorithm, type SigningKey } from '../keys/signing-key.js';
import { createFakeClock } from '../runtime/clock.js';
import { signAccessToken } from '../tokens/access-token.js';
import {
  nodeSignatureBackend,
  type SignatureBackend,
  signatureLength,
  webSignatureBackend,
} from './signature.js';
import { defaultTokenDigest } from './token-cache.js';
import type { VerificationKey } from './types.js';
import { type AccessTokenVerifier, buildVerifier } from './verifier.js';

const NOW = Date.UTC(2026, 5, 1);
const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'api';
const ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256', 'PS256'];
/** The order of the P-256 group: r or s equal to it (or zero) must never verify. */
const P256_ORDER = 'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551';

const node = nodeSignatureBackend(nodeCrypto as never);
const web = webSignatureBackend();

interface Fixture {
  readonly key: SigningKey;
  /** A second key of the same algorithm published under the same kid: signatures that must fail. */
  readonly impostor: SigningKey;
  readonly verifiers: readonly [AccessTokenVerifier, AccessTokenVerifier];
}

const fixtures = new Map<SigningAlgorithm, Fixture>();

function verifierWith(backend: SignatureBackend, key: SigningKey): AccessTokenVerifier {
  return buildVerifier(
    {
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: [key.publicJwk] },
      clock: createFakeClock(NOW),
    },
    { backend, digest: defaultTokenDigest() },
  );
}

beforeAll(async () => {
  for (const alg of ALGORITHMS) {
    const key = await generateSigningKey({ alg, kid: `k-${alg}` });
    const impostor = await generateSigningKey({ alg, kid: `k-${alg}` });
    fixtures.set(alg, { key, impostor, verifiers: [verifierWith(node, key), verifierWith(web, key)] });
  }
});

function fixture(alg: SigningAlgorithm): Fixture {
  return fixtures.get(alg) as Fixture;
}

function mint(key: SigningKey, overrides: { subject?: string; scope?: string; ttl?: number } = {}) {
  return signAccessToken({
    key,
    issuer: ISSUER,
    audience: [AUDIENCE],
    subject: overrides.subject ?? 'alice',
    sessionId: '0190a0b1-c2d3-7e4f-8a5b-6c7d8e9f0a1b',
    clientId: 'web',
    jti: 'jti-1',
    issuedAt: NOW,
    expiresAt: NOW + (overrides.ttl ?? 300_000),
    authTime: NOW,
    ...(overrides.scope === undefined ? {} : { scope: overrides.scope }),
  });
}

/** Outcome of a verification, comparable across backends. */
async function outcomes(alg: SigningAlgorithm, token: string): Promise<[string, string]> {
  const [viaNode, viaWeb] = fixture(alg).verifiers;
  const a = await viaNode.verify(token);
  const b = await viaWeb.verify(token);
  return [a.ok ? 'ok' : a.error.code, b.ok ? 'ok' : b.error.code];
}

function withSignature(token: string, signature: Uint8Array): string {
  return `${token.slice(0, token.lastIndexOf('.'))}.${base64urlEncode(signature)}`;
}

function signatureOf(token: string): Uint8Array {
  return base64urlDecode(token.slice(token.lastIndexOf('.') + 1)) as Uint8Array;
}

describe.each(ALGORITHMS)('%s: node and webcrypto backends agree', (alg) => {
  it('on valid tokens (all accepted)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 60 }),
        async (subject, scope) => {
          const token = await mint(fixture(alg).key, { subject, scope });
          expect(await outcomes(alg, token)).toEqual(['ok', 'ok']);
        },
      ),
      { numRuns: 25, seed: 42 },
    );
  });

  it('on tokens with one character changed anywhere', async () => {
    const token = await mint(fixture(alg).key);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: token.length - 1 }),
        fc.constantFrom(...alphabet),
        async (position, replacement) => {
          const changed = `${token.slice(0, position)}${replacement}${token.slice(position + 1)}`;
          const [a, b] = await outcomes(alg, changed);
          expect(a).toBe(b);
          if (changed !== token) expect(a).not.toBe('ok');
          seen.add(a);
        },
      ),
      { numRuns: 150, seed: 7 },
    );
    // The corpus exercised more than one refusal path, so agreement means something.
    expect(seen.size).toBeGreaterThan(1);
  });

  it('on signatures of the right length but wrong content, from another key, or truncated', async () => {
    const { key, impostor } = fixture(alg);
    const token = await mint(key);
    const forged = await mint(impostor);
    const length = signatureLength(
      { kid: key.kid, algorithms: [alg], jwk: key.publicJwk } as VerificationKey,
      alg,
    );
    const signature = signatureOf(token);
    const variants: Uint8Array[] = [
      new Uint8Array(length),
      new Uint8Array(length).fill(0xff),
      signatureOf(forged),
      signature.slice(0, length - 1),
      new Uint8Array([...signature, 0]),
      new Uint8Array(0),
    ];
    if (alg === 'ES256') {
      const order = Uint8Array.from(P256_ORDER.match(/../g) as string[], (byte) => Number.parseInt(byte, 16));
      variants.push(new Uint8Array([...order, ...order]));
      variants.push(new Uint8Array([...signature.slice(0, 32), ...order]));
      // r || (n - s): the malleable twin of a valid signature.
      const s = BigInt(`0x${Buffer.from(signature.slice(32)).toString('hex')}`);
      const twin = (BigInt(`0x${P256_ORDER}`) - s).toString(16).padStart(64, '0');
      variants.push(new Uint8Array([...signature.slice(0, 32), ...Buffer.from(twin, 'hex')]));
    }
    for (const variant of variants) {
      const [a, b] = await outcomes(alg, withSignature(token, variant));
      expect(a).toBe(b);
    }
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: length, maxLength: length }), async (bytes) => {
        const [a, b] = await outcomes(alg, withSignature(token, bytes));
        expect([a, b]).toEqual(['bad_signature', 'bad_signature']);
      }),
      { numRuns: 40, seed: 11 },
    );
  });

  it('on arbitrary strings and three-segment garbage', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((parts) => parts.join('.')),
          fc
            .uint8Array({ maxLength: 200 })
            .map((bytes) => `eyJ.${base64urlEncode(bytes)}.${base64urlEncode(bytes)}`),
        ),
        async (token) => {
          const [a, b] = await outcomes(alg, token);
          expect(a).toBe(b);
          expect(a).not.toBe('ok');
        },
      ),
      { numRuns: 150, seed: 3 },
    );
  });
});

describe('backends', () => {
  it('a key that cannot be imported verifies nothing, on both backends', async () => {
    const broken: VerificationKey = {
      kid: 'broken',
      algorithms: ['ES256'],
      // A point that is not on the curve.
      jwk: {
        kty: 'EC',
        crv: 'P-256',
        x: base64urlEncode(new Uint8Array(32).fill(1)),
        y: base64urlEncode(new Uint8Array(32).fill(2)),
      },
    };
    const data = new TextEncoder().encode('x.y');
    const signature = new Uint8Array(64).fill(1);
    expect(await node.check(broken, 'ES256')(data, signature)).toBe(false);
    expect(await web.check(broken, 'ES256')(data, signature)).toBe(false);
  });
});
