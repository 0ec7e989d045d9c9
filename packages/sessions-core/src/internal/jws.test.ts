/**
 * The Node signing path must produce exactly what the portable jose path produces: byte-identical
 * tokens for the deterministic algorithms, and tokens jose verifies for all of them.
 */

import * as nodeCryptoModule from 'node:crypto';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateSigningKey, SIGNING_ALGORITHMS } from '../keys/signing-key.js';
import type { NodeCryptoModule } from './crypto.js';
import { joseSigner, jwsSigner, nodeSigner } from './jws.js';

const node = nodeCryptoModule as unknown as NodeCryptoModule;
const payload = {
  iss: 'https://auth.test',
  sub: 'user-1',
  aud: 'api',
  exp: 4_102_444_800,
  iat: 1_700_000_000,
  n: 'é✓',
};

describe.each(SIGNING_ALGORITHMS.map((alg) => [alg]))('JWS signing with %s', (alg) => {
  it('the Node path and the jose path both produce tokens jose verifies, with the same header and payload', async () => {
    const key = await generateSigningKey({ alg });
    const jwks = createLocalJWKSet({ keys: [key.publicJwk] });
    for (const sign of [nodeSigner(node, key, 'at+jwt'), joseSigner(key, 'at+jwt')]) {
      const token = await sign(payload);
      const verified = await jwtVerify(token, jwks, { typ: 'at+jwt', algorithms: [alg] });
      expect(verified.payload).toEqual(payload);
      expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'at+jwt', kid: key.kid });
    }
  });

  it('both paths serialise the signing input identically (byte-identical tokens when the algorithm is deterministic)', async () => {
    const key = await generateSigningKey({ alg });
    const fromNode = await nodeSigner(node, key, 'at+jwt')(payload);
    const fromJose = await joseSigner(key, 'at+jwt')(payload);
    const input = (token: string) => token.slice(0, token.lastIndexOf('.'));
    expect(input(fromNode)).toBe(input(fromJose));
    if (alg === 'EdDSA' || alg === 'RS256') expect(fromNode).toBe(fromJose);
  });

  it('a signature made on the Node path does not verify once the payload is altered', async () => {
    const key = await generateSigningKey({ alg });
    const token = await nodeSigner(node, key, 'at+jwt')(payload);
    const [header, body, signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...payload, sub: 'admin' })).toString('base64url')}.${signature}`;
    await expect(compactVerify(forged, createLocalJWKSet({ keys: [key.publicJwk] }))).rejects.toThrow();
    expect(body).toBeDefined();
  });
});

describe('jwsSigner', () => {
  it('caches one signer per key and typ', async () => {
    const key = await generateSigningKey();
    expect(jwsSigner(key, 'at+jwt')).toBe(jwsSigner(key, 'at+jwt'));
    expect(jwsSigner(key, 'at+jwt')).not.toBe(jwsSigner(key, 'JWT'));
  });
});
