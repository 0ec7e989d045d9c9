/**
 * The symmetric primitives behind token hashing and successor sealing — SHA-256, HMAC-SHA-256,
 * HKDF-SHA-256 and AES-256-GCM — with two interchangeable implementations. On Node, Bun and Deno the
 * runtime's `node:crypto` is reached through `process.getBuiltinModule` (no static import, so edge
 * bundles never see it) and runs synchronously: a SHA-256 costs about a microsecond instead of the
 * ~80 µs round trip of an async Web Crypto call, which dominates a renewal otherwise. Everywhere
 * else (workers, browsers) Web Crypto does the same work. Both produce identical bytes; a
 * differential test holds them to it.
 */

/** What sessionkit needs from a crypto implementation. Byte outputs are fresh arrays. */
export interface SymmetricCrypto {
  readonly name: 'node' | 'webcrypto';
  sha256(data: Uint8Array): Promise<Uint8Array>;
  /** Prepares HMAC-SHA-256 under `key` (imported at most once) and returns the MAC function. */
  hmacSha256(key: Uint8Array): (data: Uint8Array) => Promise<Uint8Array>;
  /** HKDF-SHA-256 producing a 32-byte key. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Promise<Uint8Array>;
  /** AES-256-GCM; returns ciphertext followed by the 16-byte tag. */
  aesGcmEncrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
  /** AES-256-GCM; returns the plaintext, or `null` when authentication fails. */
  aesGcmDecrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array | null>;
}

const TAG_BYTES = 16;

/** The subset of `node:crypto` sessionkit uses, typed structurally so no Node types are needed. */
export interface NodeCryptoModule {
  createHash(algorithm: 'sha256'): { update(data: Uint8Array): { digest(): Uint8Array } };
  createHmac(algorithm: 'sha256', key: Uint8Array): { update(data: Uint8Array): { digest(): Uint8Array } };
  createCipheriv(
    algorithm: 'aes-256-gcm',
    key: Uint8Array,
    iv: Uint8Array,
  ): {
    setAAD(aad: Uint8Array): void;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
    getAuthTag(): Uint8Array;
  };
  sign(
    algorithm: 'sha256' | null,
    data: Uint8Array,
    key: { key: unknown; dsaEncoding?: 'ieee-p1363'; padding?: number; saltLength?: number },
  ): Uint8Array;
  readonly KeyObject: { from(key: CryptoKey): unknown };
  readonly constants: { readonly RSA_PKCS1_PSS_PADDING: number };
  createDecipheriv(
    algorithm: 'aes-256-gcm',
    key: Uint8Array,
    iv: Uint8Array,
  ): {
    setAAD(aad: Uint8Array): void;
    setAuthTag(tag: Uint8Array): void;
    update(data: Uint8Array): Uint8Array;
    final(): Uint8Array;
  };
}

/** Builds the `node:crypto` implementation. */
export function nodeCrypto(crypto: NodeCryptoModule): SymmetricCrypto {
  const fresh = (bytes: Uint8Array) =>
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
  return {
    name: 'node',
    sha256: async (data) => fresh(crypto.createHash('sha256').update(data).digest()),
    hmacSha256(key) {
      const own = key.slice();
      return async (data) => fresh(crypto.createHmac('sha256', own).update(data).digest());
    },
    // RFC 5869 with one output block, on two HMACs: node's hkdfSync builds key objects and costs
    // several times more for a 32-byte key.
    async hkdfSha256(ikm, salt, info) {
      const prk = crypto.createHmac('sha256', salt).update(ikm).digest();
      const block = new Uint8Array(info.length + 1);
      block.set(info, 0);
      block[info.length] = 1;
      return fresh(crypto.createHmac('sha256', prk).update(block).digest());
    },
    async aesGcmEncrypt(key, nonce, plaintext, aad) {
      const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(aad);
      const head = cipher.update(plaintext);
      const tail = cipher.final();
      const tag = cipher.getAuthTag();
      const out = new Uint8Array(head.length + tail.length + tag.length);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(tag, head.length + tail.length);
      return out;
    },
    async aesGcmDecrypt(key, nonce, sealed, aad) {
      if (sealed.length < TAG_BYTES) return null;
      try {
        const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(aad);
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        const head = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
        const tail = decipher.final();
        const out = new Uint8Array(head.length + tail.length);
        out.set(head, 0);
        out.set(tail, head.length);
        return out;
      } catch {
        return null;
      }
    },
  };
}

/** The Web Crypto implementation (any runtime with `crypto.subtle`). */
export function webCrypto(subtle: SubtleCrypto = globalThis.crypto.subtle): SymmetricCrypto {
  // Web Crypto wants views of plain ArrayBuffers; copying also detaches us from callers' buffers.
  const own = (bytes: Uint8Array) => bytes.slice();
  const aesKey = (key: Uint8Array, usage: 'encrypt' | 'decrypt') =>
    subtle.importKey('raw', own(key), 'AES-GCM', false, [usage]);
  return {
    name: 'webcrypto',
    sha256: async (data) => new Uint8Array(await subtle.digest('SHA-256', own(data))),
    hmacSha256(key) {
      const raw = own(key);
      const importKey = () =>
        subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      let prepared: ReturnType<typeof importKey> | undefined;
      return async (data) => {
        prepared ??= importKey().catch((error: unknown) => {
          prepared = undefined; // do not cache a failure: the next call tries again
          throw error;
        });
        return new Uint8Array(await subtle.sign('HMAC', await prepared, own(data)));
      };
    },
    async hkdfSha256(ikm, salt, info) {
      const base = await subtle.importKey('raw', own(ikm), 'HKDF', false, ['deriveBits']);
      const bits = await subtle.deriveBits(
        { name: 'HKDF', hash: 'SHA-256', salt: own(salt), info: own(info) },
        base,
        256,
      );
      return new Uint8Array(bits);
    },
    async aesGcmEncrypt(key, nonce, plaintext, aad) {
      const sealed = await subtle.encrypt(
        { name: 'AES-GCM', iv: own(nonce), additionalData: own(aad) },
        await aesKey(key, 'encrypt'),
        own(plaintext),
      );
      return new Uint8Array(sealed);
    },
    async aesGcmDecrypt(key, nonce, sealed, aad) {
      if (sealed.length < TAG_BYTES) return null;
      try {
        const plain = await subtle.decrypt(
          { name: 'AES-GCM', iv: own(nonce), additionalData: own(aad) },
          await aesKey(key, 'decrypt'),
          own(sealed),
        );
        return new Uint8Array(plain);
      } catch {
        return null;
      }
    },
  };
}

/** `node:crypto` when the runtime offers it without an import (Node ≥ 20.16, Bun, Deno), else `undefined`. */
export function builtinNodeCrypto(): NodeCryptoModule | undefined {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const module = runtime?.getBuiltinModule?.('node:crypto') as Partial<NodeCryptoModule> | undefined;
    return typeof module?.createHash === 'function' &&
      typeof module.sign === 'function' &&
      typeof module.KeyObject?.from === 'function'
      ? (module as NodeCryptoModule)
      : undefined;
  } catch {
    return undefined;
  }
}

let selected: SymmetricCrypto | undefined;

/** The fastest implementation this runtime offers, chosen once. */
export function symmetricCrypto(): SymmetricCrypto {
  if (selected === undefined) {
    const node = builtinNodeCrypto();
    selected = node === undefined ? webCrypto() : nodeCrypto(node);
  }
  return selected;
}
