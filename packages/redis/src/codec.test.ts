import { isSessionKitError, type SessionKitErrorCode } from '@sessionkit/sessions-core';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { createRecordCodec, DEFAULT_MAX_RECORD_BYTES, type RecordCodec } from './codec.js';

const KEY_A = Uint8Array.from({ length: 32 }, (_, index) => 0xa0 ^ index);
const KEY_B = Uint8Array.from({ length: 32 }, (_, index) => (0x51 + 7 * index) & 0xff);
const SECRET = 'plaintext-marker-7f3c';
const RECORD_ID = 'fam:0197a6e4-0000-7000-8000-000000000001';

/** Every rendering of key material or plaintext that must never appear in an error message. */
const FORBIDDEN = [KEY_A, KEY_B].flatMap((key) => [
  Buffer.from(key).toString('hex'),
  Buffer.from(key).toString('base64'),
  Buffer.from(key).toString('base64url'),
  Array.from(key).join(','),
  Buffer.from(key).toString('latin1'),
]);

const plain = () => createRecordCodec();
const encrypted = (id = 'k-a', key = KEY_A) => createRecordCodec({ encryption: { current: { id, key } } });

/** Awaits a refusal and checks its code and that its message and cause leak nothing. */
async function refusal(action: Promise<unknown> | (() => unknown), code: SessionKitErrorCode) {
  let caught: unknown;
  try {
    await (typeof action === 'function' ? action() : action);
  } catch (error) {
    caught = error;
  }
  expect(isSessionKitError(caught), `expected a sessionkit error, got ${String(caught)}`).toBe(true);
  const error = caught as Error & { code: string };
  expect(error.code).toBe(code);
  const texts = [error.message, String(error.cause ?? ''), JSON.stringify(error)];
  for (const text of texts) {
    expect(text).not.toContain(SECRET);
    for (const forbidden of FORBIDDEN) expect(text).not.toContain(forbidden);
  }
  return error;
}

const sample = {
  subject: `user-${SECRET}`,
  createdAt: 1_750_000_000_123,
  absoluteExpiresAt: 4_102_444_800_000,
  state: 'active',
  authContext: { authTime: 1_750_000_000_000, amr: ['pwd', 'otp'], acr: 'urn:sessionkit:aal2' },
  client: { ip: '2001:db8::1', userAgent: 'Mozilla/5.0 (Ünïcödé; 日本語) 🎉', deviceId: '' },
  grant: { clientId: 'web', claims: { nested: { deeper: [1, 'two', { three: 3 }, []] }, empty: {} } },
  numbers: [0, -1, 1.5, -1e-9, 2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
  flags: [true, false],
  nothing: null,
};

describe.each([
  ['plain', plain],
  ['encrypted', () => encrypted()],
] as const)('%s round trip', (_mode, make) => {
  it('returns nested objects, large epoch ms, unicode and arrays unchanged', async () => {
    const codec = make();
    const { value } = await codec.decode(RECORD_ID, await codec.encode(RECORD_ID, sample));
    expect(value).toStrictEqual(sample);
  });

  it('keeps null and undefined the way msgpackr does', async () => {
    const codec = make();
    const roundTrip = async (value: unknown) =>
      (await codec.decode(RECORD_ID, await codec.encode(RECORD_ID, value))).value;
    expect(await roundTrip(null)).toBeNull();
    expect(await roundTrip(undefined)).toBeUndefined();
    const object = (await roundTrip({ a: undefined, b: null })) as Record<string, unknown>;
    expect(Object.keys(object)).toEqual(['a', 'b']);
    expect(object).toStrictEqual({ a: undefined, b: null });
    expect(await roundTrip([undefined, null])).toStrictEqual([undefined, null]);
    expect(await roundTrip('')).toBe('');
    expect(await roundTrip(2 ** 53)).toBe(2 ** 53);
  });

  it('is not stale when the record matches the configuration', async () => {
    const codec = make();
    expect((await codec.decode(RECORD_ID, await codec.encode(RECORD_ID, 1))).stale).toBe(false);
  });

  it('refuses a value MessagePack cannot hold', async () => {
    await refusal(make().encode(RECORD_ID, 2n ** 70n), 'invalid_argument');
  });
});

describe('record layout', () => {
  it('prefixes plain records with 0x01 followed by the MessagePack bytes', async () => {
    const bytes = await plain().encode(RECORD_ID, { a: 1 });
    const msgpack = new Packr({ useRecords: false }).pack({ a: 1 });
    expect(Array.from(bytes)).toEqual([0x01, ...msgpack]);
    // A map of one entry (msgpackr writes map16) holding the fixstr "a" and the fixint 1.
    expect(Array.from(msgpack)).toEqual([0xde, 0x00, 0x01, 0xa1, 0x61, 0x01]);
  });

  it('lays out encrypted records as 0x02 | idLength | id | nonce(12) | ciphertext+tag(16)', async () => {
    const plainBytes = await plain().encode(RECORD_ID, sample);
    const bytes = await encrypted('k-a').encode(RECORD_ID, sample);
    expect(bytes[0]).toBe(0x02);
    expect(bytes[1]).toBe(3);
    expect(new TextDecoder().decode(bytes.subarray(2, 5))).toBe('k-a');
    expect(bytes.length).toBe(2 + 3 + 12 + (plainBytes.length - 1) + 16);
    expect(Buffer.from(bytes).includes(SECRET)).toBe(false);
    expect(Buffer.from(plainBytes).includes(SECRET)).toBe(true);
  });

  it('draws a fresh nonce for every record: 1000 encodes give 1000 nonces and ciphertexts', async () => {
    const codec = encrypted('k-a');
    const records = await Promise.all(
      Array.from({ length: 1000 }, () => codec.encode(RECORD_ID, { same: 'value' })),
    );
    const nonces = new Set(records.map((bytes) => Buffer.from(bytes.subarray(5, 17)).toString('hex')));
    const ciphertexts = new Set(records.map((bytes) => Buffer.from(bytes.subarray(17)).toString('hex')));
    expect(nonces.size).toBe(1000);
    expect(ciphertexts.size).toBe(1000);
    const decoded = await Promise.all(records.map((bytes) => codec.decode(RECORD_ID, bytes)));
    expect(decoded.every(({ value }) => (value as { same: string }).same === 'value')).toBe(true);
  });

  it('keeps its own copy of the key: changing the caller array later changes nothing', async () => {
    const key = KEY_A.slice();
    const codec = encrypted('k-a', key);
    const bytes = await codec.encode(RECORD_ID, sample);
    key.fill(0);
    expect((await codec.decode(RECORD_ID, bytes)).value).toStrictEqual(sample);
    expect((await encrypted('k-a', KEY_A).decode(RECORD_ID, bytes)).value).toStrictEqual(sample);
  });
});

describe('key rotation and migration', () => {
  const rotated = () =>
    createRecordCodec({
      encryption: { current: { id: 'k-b', key: KEY_B }, previous: { id: 'k-a', key: KEY_A } },
    });

  it('opens a record sealed under the previous key and marks it stale', async () => {
    const old = await encrypted('k-a', KEY_A).encode(RECORD_ID, sample);
    expect(await rotated().decode(RECORD_ID, old)).toStrictEqual({ value: sample, stale: true });
  });

  it('re-encrypts a stale record under the current key, which then reads as fresh', async () => {
    const codec = rotated();
    const first = await codec.decode(RECORD_ID, await encrypted('k-a', KEY_A).encode(RECORD_ID, sample));
    expect(first.stale).toBe(true);
    const again = await codec.encode(RECORD_ID, first.value);
    expect(new TextDecoder().decode(again.subarray(2, 2 + (again[1] ?? 0)))).toBe('k-b');
    expect(await codec.decode(RECORD_ID, again)).toStrictEqual({ value: sample, stale: false });
    // The old key alone can no longer read it.
    await refusal(encrypted('k-a', KEY_A).decode(RECORD_ID, again), 'crypto_failure');
  });

  it('reads a plain record while encryption is on as stale, and re-encrypts it', async () => {
    const codec = encrypted();
    const first = await codec.decode(RECORD_ID, await plain().encode(RECORD_ID, sample));
    expect(first).toStrictEqual({ value: sample, stale: true });
    const again = await codec.encode(RECORD_ID, first.value);
    expect(again[0]).toBe(0x02);
    expect(await codec.decode(RECORD_ID, again)).toStrictEqual({ value: sample, stale: false });
  });

  it('refuses an encrypted record when no key is configured, saying a key is needed', async () => {
    const bytes = await encrypted().encode(RECORD_ID, sample);
    const error = await refusal(plain().decode(RECORD_ID, bytes), 'crypto_failure');
    expect(error.message).toMatch(/key/);
  });
});

describe('refusals on decode', () => {
  it('refuses a record sealed under the same key id with other key bytes', async () => {
    const bytes = await encrypted('k-a', KEY_A).encode(RECORD_ID, sample);
    await refusal(encrypted('k-a', KEY_B).decode(RECORD_ID, bytes), 'crypto_failure');
  });

  it('refuses a key id it does not know, naming the id', async () => {
    const bytes = await encrypted('k-a', KEY_A).encode(RECORD_ID, sample);
    const error = await refusal(encrypted('k-z', KEY_A).decode(RECORD_ID, bytes), 'crypto_failure');
    expect(error.message).toContain('"k-a"');
  });

  it('refuses a record flipped at any single byte', async () => {
    const codec = encrypted();
    const bytes = await codec.encode(RECORD_ID, sample);
    for (let index = 0; index < bytes.length; index++) {
      for (const mask of [0x01, 0x80]) {
        const tampered = bytes.slice();
        tampered[index] = (tampered[index] ?? 0) ^ mask;
        await refusal(codec.decode(RECORD_ID, tampered), 'crypto_failure');
      }
    }
  });

  it('refuses a record decoded under another record id (it was copied to another key)', async () => {
    const codec = encrypted();
    const bytes = await codec.encode(RECORD_ID, sample);
    for (const other of [`${RECORD_ID}0`, RECORD_ID.slice(0, -1), '', 'ses:x']) {
      await refusal(codec.decode(other, bytes), 'crypto_failure');
    }
  });

  it.each([
    ['plain', plain],
    ['encrypted', () => encrypted()],
  ] as const)('refuses a %s record truncated at every length', async (_mode, make) => {
    const codec: RecordCodec = make();
    const bytes = await codec.encode(RECORD_ID, sample);
    for (let length = 0; length < bytes.length; length++) {
      await refusal(codec.decode(RECORD_ID, bytes.subarray(0, length)), 'crypto_failure');
    }
  });

  it('refuses unknown format prefixes', async () => {
    const body = (await plain().encode(RECORD_ID, sample)).subarray(1);
    for (const prefix of [0x00, 0x03, 0x7f, 0xff]) {
      await refusal(plain().decode(RECORD_ID, Uint8Array.from([prefix, ...body])), 'crypto_failure');
      await refusal(encrypted().decode(RECORD_ID, Uint8Array.from([prefix, ...body])), 'crypto_failure');
    }
  });

  it('refuses trailing bytes without quoting the payload (msgpackr quotes it in its own message)', async () => {
    const bytes = await plain().encode(RECORD_ID, SECRET);
    const error = await refusal(
      plain().decode(RECORD_ID, Uint8Array.from([...bytes, 0x00])),
      'crypto_failure',
    );
    expect(error.cause).toBeUndefined();
  });

  it('refuses a sealed record whose key id length is zero', async () => {
    const bytes = Uint8Array.from([0x02, 0x00, ...new Uint8Array(40)]);
    await refusal(encrypted().decode(RECORD_ID, bytes), 'crypto_failure');
  });
});

describe('size cap', () => {
  /** A string value whose plain record is exactly `size` bytes (str16 header: 3 bytes + prefix). */
  const valueOfRecordSize = (size: number) => 'x'.repeat(size - 4);

  it('defaults to 16 KiB, overhead included, on encode', async () => {
    const codec = plain();
    const fits = await codec.encode(RECORD_ID, valueOfRecordSize(DEFAULT_MAX_RECORD_BYTES));
    expect(fits.length).toBe(DEFAULT_MAX_RECORD_BYTES);
    const error = await refusal(
      codec.encode(RECORD_ID, valueOfRecordSize(DEFAULT_MAX_RECORD_BYTES + 1)),
      'invalid_argument',
    );
    expect(error.message).toContain(String(DEFAULT_MAX_RECORD_BYTES + 1));
    expect(error.message).toContain(String(DEFAULT_MAX_RECORD_BYTES));
  });

  it('counts the encryption overhead against the cap', async () => {
    const overhead = 2 + 'k-a'.length + 12 + 16;
    const codec = createRecordCodec({ encryption: { current: { id: 'k-a', key: KEY_A } }, maxBytes: 1000 });
    const value = valueOfRecordSize(1000 - overhead + 1);
    expect((await codec.encode(RECORD_ID, value)).length).toBe(1000);
    await refusal(codec.encode(RECORD_ID, `${value}x`), 'invalid_argument');
  });

  it('refuses to decode a stored record over the cap, before looking at it', async () => {
    const big = await createRecordCodec({ maxBytes: 2000 }).encode(RECORD_ID, valueOfRecordSize(1001));
    const small = createRecordCodec({ maxBytes: 1000 });
    const error = await refusal(small.decode(RECORD_ID, big), 'invalid_argument');
    expect(error.message).toMatch(/1001 bytes.*1000 bytes/);
    const sealed = await encrypted().encode(RECORD_ID, valueOfRecordSize(1001));
    await refusal(
      createRecordCodec({ encryption: { current: { id: 'k-a', key: KEY_A } }, maxBytes: 1000 }).decode(
        RECORD_ID,
        sealed,
      ),
      'invalid_argument',
    );
  });
});

describe('configuration', () => {
  const withKey = (current: unknown, previous?: unknown) => () =>
    createRecordCodec({
      encryption: { current, ...(previous === undefined ? {} : { previous }) } as never,
    });

  it.each([
    ['a 31-byte key', withKey({ id: 'a', key: KEY_A.subarray(0, 31) })],
    ['a 33-byte key', withKey({ id: 'a', key: Uint8Array.from([...KEY_A, 1]) })],
    ['an empty key', withKey({ id: 'a', key: new Uint8Array(0) })],
    ['a key that is not bytes', withKey({ id: 'a', key: Buffer.from(KEY_A).toString('hex') })],
    ['a short previous key', withKey({ id: 'a', key: KEY_A }, { id: 'b', key: KEY_B.subarray(1) })],
    ['the same id twice', withKey({ id: 'same', key: KEY_A }, { id: 'same', key: KEY_B })],
    ['an empty key id', withKey({ id: '', key: KEY_A })],
    ['a key id over 255 bytes', withKey({ id: 'é'.repeat(128), key: KEY_A })],
    ['a key id that is not a string', withKey({ id: 7, key: KEY_A })],
    ['a missing current key', withKey(undefined)],
    ['maxBytes 0', () => createRecordCodec({ maxBytes: 0 })],
    ['maxBytes -1', () => createRecordCodec({ maxBytes: -1 })],
    ['maxBytes 1.5', () => createRecordCodec({ maxBytes: 1.5 })],
    ['maxBytes NaN', () => createRecordCodec({ maxBytes: Number.NaN })],
  ])('refuses %s at creation', async (_name, create) => {
    await refusal(create, 'invalid_config');
  });

  it('accepts a key id of exactly 255 bytes and round-trips under it', async () => {
    const id = 'k'.repeat(255);
    const codec = encrypted(id);
    const bytes = await codec.encode(RECORD_ID, sample);
    expect(bytes[1]).toBe(255);
    expect((await codec.decode(RECORD_ID, bytes)).value).toStrictEqual(sample);
  });

  it('refuses a record id that is not a string', async () => {
    await refusal(plain().encode(42 as never, 1), 'invalid_argument');
    await refusal(plain().decode(42 as never, Uint8Array.of(0x01, 0x01)), 'invalid_argument');
  });
});
