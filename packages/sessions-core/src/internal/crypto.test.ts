/**
 * The two crypto backends must be byte-for-byte interchangeable: a token hashed or a successor
 * sealed on Node must verify and open on a worker running Web Crypto, and the other way round.
 */

import * as nodeCryptoModule from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type NodeCryptoModule, nodeCrypto, symmetricCrypto, webCrypto } from './crypto.js';

const node = nodeCrypto(nodeCryptoModule as unknown as NodeCryptoModule);
const web = webCrypto();
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const RUNS = { numRuns: 100 };

describe('symmetric crypto backends', () => {
  it('Node picks the synchronous node:crypto backend through process.getBuiltinModule', () => {
    expect(symmetricCrypto().name).toBe('node');
  });

  it('SHA-256 agrees', async () => {
    await fc.assert(
      fc.asyncProperty(bytes(0, 300), async (data) => {
        expect(await node.sha256(data)).toEqual(await web.sha256(data));
      }),
      RUNS,
    );
  });

  it('HMAC-SHA-256 agrees', async () => {
    await fc.assert(
      fc.asyncProperty(bytes(1, 64), bytes(0, 300), async (key, data) => {
        expect(await node.hmacSha256(key)(data)).toEqual(await web.hmacSha256(key)(data));
      }),
      RUNS,
    );
  });

  it('HKDF-SHA-256 agrees', async () => {
    await fc.assert(
      fc.asyncProperty(bytes(1, 64), bytes(0, 64), bytes(0, 64), async (ikm, salt, info) => {
        const derived = await node.hkdfSha256(ikm, salt, info);
        expect(derived).toHaveLength(32);
        expect(derived).toEqual(await web.hkdfSha256(ikm, salt, info));
      }),
      RUNS,
    );
  });

  it('AES-256-GCM agrees, and each side opens what the other sealed', async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes(32, 32),
        bytes(12, 12),
        bytes(0, 200),
        bytes(0, 64),
        async (key, nonce, plain, aad) => {
          const sealedByNode = await node.aesGcmEncrypt(key, nonce, plain, aad);
          expect(sealedByNode).toEqual(await web.aesGcmEncrypt(key, nonce, plain, aad));
          expect(await web.aesGcmDecrypt(key, nonce, sealedByNode, aad)).toEqual(plain);
          expect(await node.aesGcmDecrypt(key, nonce, sealedByNode, aad)).toEqual(plain);
        },
      ),
      RUNS,
    );
  });

  it.each([
    ['node', node],
    ['webcrypto', web],
  ])(
    '%s: AES-256-GCM answers null for a flipped bit, wrong AAD, wrong key or a short input',
    async (_name, impl) => {
      const key = nodeCryptoModule.randomBytes(32);
      const nonce = nodeCryptoModule.randomBytes(12);
      const aad = new TextEncoder().encode('record-1');
      const sealed = await impl.aesGcmEncrypt(key, nonce, new TextEncoder().encode('successor'), aad);
      for (let i = 0; i < sealed.length; i++) {
        const tampered = sealed.slice();
        tampered[i] = (tampered[i] ?? 0) ^ 1;
        expect(await impl.aesGcmDecrypt(key, nonce, tampered, aad)).toBeNull();
      }
      expect(await impl.aesGcmDecrypt(key, nonce, sealed, new TextEncoder().encode('record-2'))).toBeNull();
      expect(await impl.aesGcmDecrypt(nodeCryptoModule.randomBytes(32), nonce, sealed, aad)).toBeNull();
      expect(await impl.aesGcmDecrypt(key, nonce, sealed.subarray(0, 15), aad)).toBeNull();
    },
  );

  it('outputs are fresh copies the caller may keep', async () => {
    const first = await node.sha256(new Uint8Array([1]));
    first.fill(0);
    expect(await node.sha256(new Uint8Array([1]))).not.toEqual(first);
  });
});
