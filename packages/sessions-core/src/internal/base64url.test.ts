import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bufferBase64url, portableBase64urlDecode, portableBase64urlEncode } from './base64url.js';

const viaBuffer = bufferBase64url(Buffer);
const implementations = [
  ['portable', portableBase64urlEncode, portableBase64urlDecode],
  ['Buffer', viaBuffer.encode, viaBuffer.decode],
] as const;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe.each(implementations)('%s codec', (_name, base64urlEncode, base64urlDecode) => {
  describe('base64urlEncode', () => {
    it('encodes the RFC 4648 test vectors (base64url, unpadded)', () => {
      const vectors: [string, string][] = [
        ['', ''],
        ['f', 'Zg'],
        ['fo', 'Zm8'],
        ['foo', 'Zm9v'],
        ['foob', 'Zm9vYg'],
        ['fooba', 'Zm9vYmE'],
        ['foobar', 'Zm9vYmFy'],
      ];
      for (const [plain, encoded] of vectors) {
        expect(base64urlEncode(new TextEncoder().encode(plain))).toBe(encoded);
        expect(base64urlDecode(encoded)).toEqual(new TextEncoder().encode(plain));
      }
    });

    it('uses - and _ for the last two alphabet values', () => {
      expect(base64urlEncode(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
      expect(base64urlEncode(new Uint8Array([0xff, 0xff, 0xff]))).toBe('____');
    });

    it('matches Buffer base64url for random bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(base64urlEncode(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
        }),
        { numRuns: 500 },
      );
    });

    it('encodes a subarray view, not its whole backing buffer', () => {
      const backing = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
      expect(base64urlEncode(backing.subarray(2, 5))).toBe(Buffer.from([3, 4, 5]).toString('base64url'));
    });
  });

  describe('base64urlDecode', () => {
    it('round-trips any bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(base64urlDecode(base64urlEncode(bytes))).toEqual(bytes);
        }),
        { numRuns: 500 },
      );
    });

    it('matches Buffer on canonical text', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          const text = Buffer.from(bytes).toString('base64url');
          expect(base64urlDecode(text)).toEqual(new Uint8Array(Buffer.from(text, 'base64url')));
        }),
        { numRuns: 300 },
      );
    });

    it('rejects padding', () => {
      expect(base64urlDecode('Zg==')).toBeNull();
      expect(base64urlDecode('Zm8=')).toBeNull();
      expect(base64urlDecode('Zm9v====')).toBeNull();
    });

    it("rejects the standard alphabet's + and /", () => {
      // Buffer would accept these as 0xfb 0xff; we must not.
      expect(base64urlDecode('+/8')).toBeNull();
      expect(base64urlDecode('-_8')).toEqual(new Uint8Array([0xfb, 0xff]));
      expect(base64urlDecode('AA+A')).toBeNull();
      expect(base64urlDecode('AA/A')).toBeNull();
    });

    it('rejects whitespace, dots, and characters outside ASCII', () => {
      for (const text of [
        'Zm9v Zg',
        'Zm9v\nZg',
        ' Zm9v',
        'Zm9v.Zg',
        'Zm9é',
        'Zm9\u0176',
        'Zm\u{1f600}',
        'Zm9\0',
      ]) {
        expect(base64urlDecode(text), JSON.stringify(text)).toBeNull();
      }
    });

    it('rejects a length that leaves one dangling character', () => {
      for (const text of ['A', 'AAAAA', 'Zm9vY']) expect(base64urlDecode(text)).toBeNull();
    });

    it('rejects non-canonical last characters (unused low bits set)', () => {
      // One byte: 'Zg' is canonical for 'f'; every low-bit flip of the last char spells the same byte.
      const one = base64urlEncode(new Uint8Array([0x66]));
      expect(one).toBe('Zg');
      for (const flip of [1, 2, 4, 8]) {
        const last = ALPHABET[ALPHABET.indexOf('g') ^ flip] as string;
        expect(base64urlDecode(`Z${last}`), `Z${last}`).toBeNull();
        // Buffer is lenient here — which is exactly the second spelling we refuse.
        expect(Buffer.from(`Z${last}`, 'base64url')).toEqual(Buffer.from([0x66]));
      }
      // Two bytes: 'Zm8' is canonical for 'fo'; the last char has two unused bits.
      for (const flip of [1, 2]) {
        const last = ALPHABET[ALPHABET.indexOf('8') ^ flip] as string;
        expect(base64urlDecode(`Zm${last}`)).toBeNull();
      }
    });

    it('accepts exactly one spelling per byte string (every 1- and 2-byte tail)', () => {
      for (let len = 1; len <= 2; len++) {
        const charsInTail = len + 1;
        for (let value = 0; value < 64; value++) {
          const text = `AA${ALPHABET[value] as string}`.slice(3 - charsInTail);
          const decoded = base64urlDecode(text);
          const unusedBits = charsInTail === 2 ? 0x0f : 0x03;
          if (value & unusedBits) {
            expect(decoded, text).toBeNull();
          } else {
            expect(decoded, text).not.toBeNull();
            expect(base64urlEncode(decoded as Uint8Array)).toBe(text);
          }
        }
      }
    });

    it('never throws, and whatever it accepts re-encodes to the same text', () => {
      const base64ish = fc.string({
        unit: fc.constantFrom(...ALPHABET, '=', '+', '/', '.', ' '),
        maxLength: 40,
      });
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), base64ish), (text) => {
          const decoded = base64urlDecode(text);
          if (decoded !== null) expect(base64urlEncode(decoded)).toBe(text);
        }),
        { numRuns: 2_000 },
      );
    });

    it('returns null for a non-string at runtime', () => {
      expect(base64urlDecode(undefined as unknown as string)).toBeNull();
      expect(base64urlDecode(42 as unknown as string)).toBeNull();
    });

    it('decodes the empty string to no bytes', () => {
      expect(base64urlDecode('')).toEqual(new Uint8Array(0));
    });
  });
});
