/**
 * Reading a PEM-armoured private key just far enough to route it: the armour label, so an
 * encrypted, PKCS#1, SEC1 or public-key PEM is refused with a message saying what it is, and, for
 * PKCS#8, the key type named by the `PrivateKeyInfo` AlgorithmIdentifier, so the signing algorithm
 * can be inferred before Web Crypto (through jose) parses the key itself. Messages describe the
 * input's kind, never its content.
 */

import { KeyError } from '../errors.js';
import { base64urlDecode } from './base64url.js';

/** The key types a PKCS#8 signing key may hold. */
export type Pkcs8KeyType = 'Ed25519' | 'P-256' | 'RSA';

/** A PKCS#8 PEM whose armour and algorithm identifier were read. */
export interface Pkcs8Pem {
  readonly keyType: Pkcs8KeyType;
  /** The same key, re-armoured with one clean base64 body (what jose's `importPKCS8` expects). */
  readonly pem: string;
}

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)\r?\n?-----END \1-----$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_PEM_LENGTH = 16_384;

const LABEL_HINTS: Readonly<Record<string, string>> = {
  'ENCRYPTED PRIVATE KEY':
    'the PEM is an encrypted private key; decrypt it first (openssl pkcs8 -in key.pem -nocrypt -out plain.pem)',
  'RSA PRIVATE KEY':
    'the PEM is a PKCS#1 RSA key; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt -in key.pem)',
  'EC PRIVATE KEY':
    'the PEM is a SEC1 EC key; convert it to PKCS#8 (openssl pkcs8 -topk8 -nocrypt -in key.pem)',
  'PUBLIC KEY': 'the PEM is a public key; a signing key needs the private key (PKCS#8 PEM)',
  'RSA PUBLIC KEY': 'the PEM is a public key; a signing key needs the private key (PKCS#8 PEM)',
  CERTIFICATE: 'the PEM is a certificate; a signing key needs the private key (PKCS#8 PEM)',
};

const NOT_PKCS8 = 'signing key PEM is not a readable PKCS#8 private key ("-----BEGIN PRIVATE KEY-----")';

// DER content bytes of the algorithm OIDs (RFC 8410, RFC 5480, RFC 8017).
const OID_ED25519 = [0x2b, 0x65, 0x70];
const OID_EC_PUBLIC_KEY = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_RSA = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSA_PSS = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];

/**
 * Checks that `text` is one unencrypted PKCS#8 PEM block and reads which key type it holds.
 * Throws `KeyError` naming the kind of input (encrypted, PKCS#1, public, unreadable, unsupported
 * type), never quoting it.
 *
 * @example
 * ```ts
 * const { keyType, pem } = readPkcs8Pem(process.env.SIGNING_KEY_PEM!); // 'Ed25519' | 'P-256' | 'RSA'
 * ```
 */
export function readPkcs8Pem(text: string): Pkcs8Pem {
  // An 8192-bit RSA key is under 7 KB of PEM; anything far larger is not a key this file reads.
  if (text.length > MAX_PEM_LENGTH) throw new KeyError(NOT_PKCS8);
  const block = PEM_BLOCK.exec(text.trim());
  if (block === null) throw new KeyError(NOT_PKCS8);
  const label = block[1] ?? '';
  if (label !== 'PRIVATE KEY') {
    throw new KeyError(LABEL_HINTS[label] ?? NOT_PKCS8);
  }
  const body = (block[2] ?? '').replace(/\s+/g, '');
  const der =
    body.length % 4 === 0 && BASE64.test(body)
      ? base64urlDecode(body.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'))
      : null;
  if (der === null) throw new KeyError(NOT_PKCS8);
  return {
    keyType: pkcs8KeyType(der),
    pem: `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----`,
  };
}

/**
 * `PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, … }`;
 * `AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }` (RFC 5208 §5).
 */
function pkcs8KeyType(der: Uint8Array): Pkcs8KeyType {
  const reader = derReader(der);
  reader.enter(0x30); // PrivateKeyInfo
  reader.skip(0x02); // version
  reader.enter(0x30); // AlgorithmIdentifier
  const algorithm = reader.read(0x06);
  if (bytesEqual(algorithm, OID_ED25519)) return 'Ed25519';
  if (bytesEqual(algorithm, OID_RSA)) return 'RSA';
  if (bytesEqual(algorithm, OID_EC_PUBLIC_KEY)) {
    if (bytesEqual(reader.read(0x06), OID_P256)) return 'P-256';
    throw new KeyError('the PEM holds an EC key on a curve other than P-256; use Ed25519, P-256 or RSA');
  }
  if (bytesEqual(algorithm, OID_RSA_PSS)) {
    throw new KeyError(
      'the PEM holds an RSASSA-PSS-restricted RSA key; export it with the rsaEncryption identifier (use alg PS256 to sign with PSS)',
    );
  }
  throw new KeyError('the PEM holds an unsupported key type; use Ed25519, P-256 or RSA >= 2048 bits');
}

/** A forward-only DER reader over the few tags a PKCS#8 header uses; any surprise is `NOT_PKCS8`. */
function derReader(der: Uint8Array) {
  let position = 0;
  const header = (tag: number): number => {
    if (der[position] !== tag) throw new KeyError(NOT_PKCS8);
    position += 1;
    const first = der[position++];
    if (first === undefined) throw new KeyError(NOT_PKCS8);
    let length = first;
    if (first & 0x80) {
      const count = first & 0x7f;
      if (count === 0 || count > 4) throw new KeyError(NOT_PKCS8);
      length = 0;
      for (let i = 0; i < count; i += 1) {
        const byte = der[position++];
        if (byte === undefined) throw new KeyError(NOT_PKCS8);
        length = length * 256 + byte;
      }
    }
    if (position + length > der.length) throw new KeyError(NOT_PKCS8);
    return length;
  };
  return {
    /** Steps into a constructed element (its contents are read next). */
    enter(tag: number): void {
      header(tag);
    },
    /** Steps over a whole element. */
    skip(tag: number): void {
      // Not `position += header(tag)`: that reads `position` before header() has moved it.
      const length = header(tag);
      position += length;
    },
    /** Returns a primitive element's contents. */
    read(tag: number): Uint8Array {
      const length = header(tag);
      const contents = der.subarray(position, position + length);
      position += length;
      return contents;
    },
  };
}

function bytesEqual(a: Uint8Array, b: readonly number[]): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
