/**
 * Signature checks for the verifier, with two interchangeable backends. The portable one is Web
 * Crypto (`crypto.subtle`), available in every runtime sessionkit targets. Where the runtime offers
 * `node:crypto` — reached through `process.getBuiltinModule`, never imported, so an edge bundle
 * never sees it — the same check runs synchronously on a `KeyObject`, which saves the promise round
 * trip Web Crypto costs on every call. Both accept exactly the same signatures: lengths are checked
 * here before either backend runs, both use the same curve, hash, padding and PSS salt length, and a
 * differential test over a fuzz corpus of valid, tampered and malformed tokens holds them to it.
 */

import { base64urlDecode } from '../internal/base64url.js';
import { builtinNodeCrypto } from '../internal/crypto.js';
import { stripLeadingZeros } from '../internal/unsigned.js';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import type { VerificationKey } from './types.js';

/** Checks one signature over `data`. Resolves `false` for any signature that does not verify. */
export type SignatureCheck = (
  data: Uint8Array<ArrayBuffer>,
  signature: Uint8Array<ArrayBuffer>,
) => boolean | Promise<boolean>;

/** A way to turn a public key and algorithm into a {@link SignatureCheck}. */
export interface SignatureBackend {
  readonly name: 'node' | 'webcrypto';
  /** Builds the check for `key` under `alg`; may import the key (once, cached by the caller). */
  check(key: VerificationKey, alg: SigningAlgorithm): SignatureCheck;
}

/** The public members a key import needs; `kid`, `alg` and `use` stay out of the importer's way. */
function keyMaterial(key: VerificationKey): Record<string, string> {
  const { kty, crv, x, y, n, e } = key.jwk;
  const material: Record<string, string> = {};
  for (const [name, value] of Object.entries({ kty, crv, x, y, n, e })) {
    if (typeof value === 'string') material[name] = value;
  }
  return material;
}

/**
 * The signature length `alg` produces under `key`: 64 bytes for Ed25519 and for P-256 in the JOSE
 * (r || s) encoding, the modulus length for RSA. Anything else is refused before any crypto runs.
 */
export function signatureLength(key: VerificationKey, alg: SigningAlgorithm): number {
  if (alg === 'EdDSA' || alg === 'ES256') return 64;
  const modulus = typeof key.jwk.n === 'string' ? base64urlDecode(key.jwk.n) : null;
  return modulus === null ? -1 : stripLeadingZeros(modulus).length;
}

/** The structural slice of `node:crypto` the Node backend uses. */
interface NodeVerifyModule {
  createPublicKey(input: { key: Record<string, string>; format: 'jwk' }): unknown;
  verify(algorithm: 'sha256' | null, data: Uint8Array, key: unknown, signature: Uint8Array): boolean;
  readonly constants: { readonly RSA_PKCS1_PSS_PADDING: number };
}

/** The Node backend: `crypto.verify` on a `KeyObject`, synchronous. */
export function nodeSignatureBackend(node: NodeVerifyModule): SignatureBackend {
  return {
    name: 'node',
    check(key, alg) {
      let keyObject: unknown;
      try {
        keyObject = node.createPublicKey({ key: keyMaterial(key), format: 'jwk' });
      } catch {
        return () => false;
      }
      const digest = alg === 'EdDSA' ? null : 'sha256';
      const options =
        alg === 'ES256'
          ? { key: keyObject, dsaEncoding: 'ieee-p1363' }
          : alg === 'PS256'
            ? { key: keyObject, padding: node.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
            : keyObject;
      return (data, signature) => {
        try {
          return node.verify(digest, data, options, signature);
        } catch {
          return false;
        }
      };
    },
  };
}

const WEB_IMPORT: Record<SigningAlgorithm, EcKeyImportParams | RsaHashedImportParams | Algorithm> = {
  EdDSA: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
};

const WEB_VERIFY: Record<SigningAlgorithm, Algorithm | EcdsaParams | RsaPssParams> = {
  EdDSA: { name: 'Ed25519' },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
};

/** The portable backend: Web Crypto, asynchronous. */
export function webSignatureBackend(subtle: SubtleCrypto = globalThis.crypto.subtle): SignatureBackend {
  return {
    name: 'webcrypto',
    check(key, alg) {
      const imported = subtle
        .importKey('jwk', keyMaterial(key) as JsonWebKey, WEB_IMPORT[alg], false, ['verify'])
        .then(
          (cryptoKey) => cryptoKey,
          () => null,
        );
      return async (data, signature) => {
        const cryptoKey = await imported;
        if (cryptoKey === null) return false;
        try {
          return await subtle.verify(WEB_VERIFY[alg], cryptoKey, signature, data);
        } catch {
          return false;
        }
      };
    },
  };
}

let selected: SignatureBackend | undefined;

/** The fastest backend this runtime offers, chosen once. */
export function defaultSignatureBackend(): SignatureBackend {
  if (selected === undefined) {
    const node = builtinNodeCrypto() as unknown as Partial<NodeVerifyModule> | undefined;
    selected =
      typeof node?.verify === 'function' && typeof node.createPublicKey === 'function'
        ? nodeSignatureBackend(node as NodeVerifyModule)
        : webSignatureBackend();
  }
  return selected;
}
