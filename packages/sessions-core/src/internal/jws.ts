/**
 * Compact JWS signing for access tokens. With `node:crypto` available (reached without an import,
 * see `internal/crypto.ts`) the signature is computed synchronously on the key's `KeyObject`,
 * several times faster than jose's Web Crypto path; elsewhere jose's `CompactSign` does it. Both
 * serialise the header and payload the same way (`JSON.stringify`, same key order), so for the
 * deterministic algorithms (EdDSA, RS256) they produce the very same token — a test holds them to it.
 */

import { CompactSign } from 'jose';
import type { SigningKey } from '../keys/signing-key.js';
import { base64urlEncode } from './base64url.js';
import { builtinNodeCrypto, type NodeCryptoModule } from './crypto.js';

/** Signs a JWT payload under one key and header. */
export type JwsSigner = (payload: Readonly<Record<string, unknown>>) => Promise<string>;

const utf8 = new TextEncoder();
const signers = new WeakMap<SigningKey, Map<string, JwsSigner>>();

/** The signer for `key` with header `{ alg, typ, kid }`, built once per key and `typ`. */
export function jwsSigner(key: SigningKey, typ: string): JwsSigner {
  let byType = signers.get(key);
  if (byType === undefined) {
    byType = new Map();
    signers.set(key, byType);
  }
  let signer = byType.get(typ);
  if (signer === undefined) {
    const node = builtinNodeCrypto();
    signer = node === undefined ? joseSigner(key, typ) : nodeSigner(node, key, typ);
    byType.set(typ, signer);
  }
  return signer;
}

/** The portable path: jose over Web Crypto. */
export function joseSigner(key: SigningKey, typ: string): JwsSigner {
  const header = { alg: key.alg, typ, kid: key.kid };
  return (payload) =>
    new CompactSign(utf8.encode(JSON.stringify(payload))).setProtectedHeader(header).sign(key.privateKey);
}

/** The Node path: `crypto.sign` on the key's KeyObject, JOSE signature encodings. */
export function nodeSigner(node: NodeCryptoModule, key: SigningKey, typ: string): JwsSigner {
  const keyObject = node.KeyObject.from(key.privateKey);
  const options =
    key.alg === 'ES256'
      ? { key: keyObject, dsaEncoding: 'ieee-p1363' as const }
      : key.alg === 'PS256'
        ? { key: keyObject, padding: node.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
        : { key: keyObject };
  const digest = key.alg === 'EdDSA' ? null : 'sha256';
  const encodedHeader = base64urlEncode(utf8.encode(JSON.stringify({ alg: key.alg, typ, kid: key.kid })));
  return async (payload) => {
    const signingInput = `${encodedHeader}.${base64urlEncode(utf8.encode(JSON.stringify(payload)))}`;
    const signature = node.sign(digest, utf8.encode(signingInput), options);
    return `${signingInput}.${base64urlEncode(signature)}`;
  };
}
