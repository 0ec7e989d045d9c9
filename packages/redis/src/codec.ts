/**
 * The record codec: how the Redis repository turns family and session metadata into the bytes it
 * stores, and back. A record is MessagePack behind a one-byte format prefix — `0x01` plain,
 * `0x02` sealed with AES-256-GCM under a named key — so a reader always knows what it holds and a
 * store can move from plain to encrypted, or from one key to the next, one record at a time: a
 * record read under the previous key (or read plain while encryption is on) comes back marked
 * `stale`, and the caller writes it again under the current key. Every refusal is a sessionkit
 * error whose message names sizes and formats, never key bytes or record contents.
 */

import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { ConfigError, CryptoError, InvalidArgumentError } from '@sessionkit/sessions-core';
import { Packr } from 'msgpackr';

/** One named AES-256 key. The id is stored in every record sealed with it; the key never is. */
export interface RecordKey {
  /** 1–255 bytes of UTF-8. Not secret: it tells a reader which key sealed a record. */
  readonly id: string;
  /** 32 random bytes. */
  readonly key: Uint8Array;
}

/** Encryption at rest: new records are sealed under `current`; `previous` still opens old ones. */
export interface RecordEncryption {
  readonly current: RecordKey;
  readonly previous?: RecordKey;
}

/** Options of {@link createRecordCodec}. */
export interface RecordCodecOptions {
  /** When absent, records are stored plain (and encrypted records cannot be read). */
  readonly encryption?: RecordEncryption;
  /** Largest stored record, prefix and crypto overhead included. Defaults to 16 KiB. */
  readonly maxBytes?: number;
}

/** A decoded record. */
export interface DecodedRecord {
  readonly value: unknown;
  /**
   * The record was not sealed under the current key (it used the previous key, or it was plain
   * while encryption is on). The caller should encode and write it again.
   */
  readonly stale: boolean;
}

/** Encodes and decodes stored records. Both methods are safe to call concurrently. */
export interface RecordCodec {
  /**
   * Serializes `value` (sealed under the current key when encryption is on, with `recordId` as
   * authenticated data). Throws `InvalidArgumentError` when the record would exceed `maxBytes` or
   * the value cannot be serialized.
   */
  encode(recordId: string, value: unknown): Promise<Uint8Array>;
  /**
   * Reads a record stored under `recordId`. Throws `CryptoError` for anything that is not an
   * intact record of this codec under this id (unknown prefix, unknown key id, truncation,
   * tampering, a record copied from another id), and `InvalidArgumentError` above `maxBytes`.
   */
  decode(recordId: string, bytes: Uint8Array): Promise<DecodedRecord>;
}

/** The default cap on a stored record, in bytes. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024;

const FORMAT_PLAIN = 0x01;
const FORMAT_SEALED = 0x02;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const MAX_KEY_ID_BYTES = 255;

const utf8 = new TextEncoder();

/** A configured key, ready to use: its sealed-record header and its secret key object. */
interface PreparedKey {
  /** `0x02 | keyIdLength | keyId` — also the first part of the AAD. */
  readonly header: Uint8Array;
  readonly idBytes: Uint8Array;
  readonly secret: KeyObject;
}

/**
 * Creates a record codec, validating its options at once.
 *
 * @example
 * ```ts
 * const codec = createRecordCodec({
 *   encryption: {
 *     current: { id: '2025-06', key: currentKeyBytes },
 *     previous: { id: '2025-01', key: previousKeyBytes },
 *   },
 * });
 * const bytes = await codec.encode(`fam:${familyId}`, family);
 * const { value, stale } = await codec.decode(`fam:${familyId}`, bytes);
 * if (stale) await redis.set(`fam:${familyId}`, await codec.encode(`fam:${familyId}`, value));
 * ```
 */
export function createRecordCodec(options: RecordCodecOptions = {}): RecordCodec {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new ConfigError('maxBytes must be a positive integer', [
      { path: 'maxBytes', message: 'must be a positive integer' },
    ]);
  }
  const current =
    options.encryption === undefined ? undefined : prepareKey(options.encryption.current, 'current');
  const previous =
    options.encryption?.previous === undefined
      ? undefined
      : prepareKey(options.encryption.previous, 'previous');
  if (current !== undefined && previous !== undefined && sameBytes(current.idBytes, previous.idBytes)) {
    throw new ConfigError('encryption.previous.id must differ from encryption.current.id', [
      { path: 'encryption.previous.id', message: 'must differ from encryption.current.id' },
    ]);
  }
  // Plain objects and arrays only: no record structures (their shared definitions would have to be
  // stored too) and no structured-clone extensions.
  const packr = new Packr({ useRecords: false, structuredClone: false });

  const pack = (value: unknown): Uint8Array => {
    try {
      // pack() returns a view into msgpackr's reusable buffer; the caller copies it out.
      return packr.pack(value);
    } catch {
      throw new InvalidArgumentError('record value cannot be serialized as MessagePack');
    }
  };

  const unpack = (payload: Uint8Array): unknown => {
    try {
      return packr.unpack(payload);
    } catch {
      // msgpackr's messages can quote the data they read, so neither the message nor the error
      // travels on as a cause.
      throw new CryptoError('record payload is not valid MessagePack');
    }
  };

  const assertRecordId = (recordId: unknown) => {
    if (typeof recordId !== 'string') throw new InvalidArgumentError('recordId must be a string');
  };

  return {
    async encode(recordId, value) {
      assertRecordId(recordId);
      const payload = pack(value);
      const overhead = current === undefined ? 1 : current.header.length + NONCE_BYTES + TAG_BYTES;
      const size = overhead + payload.length;
      if (size > maxBytes) {
        throw new InvalidArgumentError(`record would be ${size} bytes, over the cap of ${maxBytes} bytes`);
      }
      if (current === undefined) {
        const record = new Uint8Array(size);
        record[0] = FORMAT_PLAIN;
        record.set(payload, 1);
        return record;
      }
      const nonce = randomBytes(NONCE_BYTES);
      const sealed = aesGcm('encrypt', current, nonce, payload, aad(current.header, recordId));
      // The plaintext sits in msgpackr's reusable buffer until the next pack: wipe it now.
      payload.fill(0);
      const record = new Uint8Array(current.header.length + NONCE_BYTES + sealed.length);
      record.set(current.header, 0);
      record.set(nonce, current.header.length);
      record.set(sealed, current.header.length + NONCE_BYTES);
      return record;
    },

    async decode(recordId, bytes) {
      assertRecordId(recordId);
      if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError('record bytes must be a Uint8Array');
      if (bytes.length > maxBytes) {
        throw new InvalidArgumentError(
          `stored record is ${bytes.length} bytes, over the cap of ${maxBytes} bytes`,
        );
      }
      switch (bytes[0]) {
        case undefined:
          throw new CryptoError('record is empty');
        case FORMAT_PLAIN:
          return { value: unpack(bytes.subarray(1)), stale: current !== undefined };
        case FORMAT_SEALED:
          break;
        default:
          throw new CryptoError('record has an unknown format prefix');
      }
      if (current === undefined) {
        throw new CryptoError('record is encrypted; the codec needs an encryption key to read it');
      }
      const idLength = bytes[1] ?? 0;
      const headerLength = 2 + idLength;
      if (idLength === 0 || bytes.length < headerLength + NONCE_BYTES + TAG_BYTES) {
        throw new CryptoError('encrypted record is truncated');
      }
      const idBytes = bytes.subarray(2, headerLength);
      const key = [current, previous].find((candidate) => candidate && sameBytes(candidate.idBytes, idBytes));
      if (key === undefined) {
        throw new CryptoError(
          `encrypted record names key id ${JSON.stringify(new TextDecoder().decode(idBytes))}, which is not configured`,
        );
      }
      const nonce = bytes.subarray(headerLength, headerLength + NONCE_BYTES);
      const sealed = bytes.subarray(headerLength + NONCE_BYTES);
      const plaintext = aesGcm('decrypt', key, nonce, sealed, aad(key.header, recordId));
      return { value: unpack(plaintext), stale: key !== current };
    },
  };
}

/** Validates one configured key and prepares its header and secret key object. */
function prepareKey(entry: RecordKey, which: 'current' | 'previous'): PreparedKey {
  const path = `encryption.${which}`;
  if (typeof entry?.id !== 'string') {
    throw new ConfigError(`${path}.id must be a string`, [
      { path: `${path}.id`, message: 'must be a string' },
    ]);
  }
  const idBytes = utf8.encode(entry.id);
  if (idBytes.length < 1 || idBytes.length > MAX_KEY_ID_BYTES) {
    throw new ConfigError(
      `${path}.id must be 1 to ${MAX_KEY_ID_BYTES} bytes of UTF-8, got ${idBytes.length}`,
      [{ path: `${path}.id`, message: `must be 1 to ${MAX_KEY_ID_BYTES} bytes of UTF-8` }],
    );
  }
  const raw: unknown = entry.key;
  if (!(raw instanceof Uint8Array) || raw.length !== KEY_BYTES) {
    const got = raw instanceof Uint8Array ? `${raw.length} bytes` : 'not a Uint8Array';
    throw new ConfigError(`${path}.key must be ${KEY_BYTES} bytes, got ${got}`, [
      { path: `${path}.key`, message: `must be a Uint8Array of ${KEY_BYTES} bytes` },
    ]);
  }
  const keyBytes = copy(raw); // later changes to the caller's array must not change the key
  const header = new Uint8Array(2 + idBytes.length);
  header[0] = FORMAT_SEALED;
  header[1] = idBytes.length;
  header.set(idBytes, 2);
  const secret = createSecretKey(keyBytes);
  keyBytes.fill(0);
  return { header, idBytes, secret };
}

/**
 * The authenticated data: the record header (format, key id) followed by the record id, so a
 * sealed record opens only under the id it was written for and only as the format it claims. The
 * header carries its own length, so the concatenation is unambiguous.
 */
function aad(header: Uint8Array, recordId: string): Uint8Array<ArrayBuffer> {
  const id = utf8.encode(recordId);
  const data = new Uint8Array(header.length + id.length);
  data.set(header, 0);
  data.set(id, header.length);
  return data;
}

/**
 * AES-256-GCM through node:crypto (this package runs on Node, as ioredis does): synchronous and
 * about twice as fast per record as Web Crypto's promise round trip, which matters on every renewal
 * of an encrypted store. Returns ciphertext followed by the 16-byte tag. Decryption failures of any
 * kind become one `CryptoError` without a cause: a wrong key, a flipped bit and a record copied from
 * another id must look the same to the caller.
 */
function aesGcm(
  mode: 'encrypt' | 'decrypt',
  key: PreparedKey,
  nonce: Uint8Array,
  data: Uint8Array,
  additionalData: Uint8Array,
): Uint8Array {
  if (mode === 'encrypt') {
    try {
      const cipher = createCipheriv('aes-256-gcm', key.secret, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData);
      return Buffer.concat([cipher.update(data), cipher.final(), cipher.getAuthTag()]);
    } catch (error) {
      throw new CryptoError('AES-GCM encryption failed', { cause: error });
    }
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.secret, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData);
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new CryptoError('encrypted record failed authentication (wrong key, wrong record id or tampered)');
  }
}

/** A fresh copy of caller-owned bytes. */
function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}
