/** Bearer extraction from the Authorization header (RFC 6750 §2.1, RFC 7235 token68). */

import { describe, expect, it } from 'vitest';
import { readBearer } from './bearer.js';

function read(authorization?: string) {
  return readBearer(new Headers(authorization === undefined ? {} : { authorization }));
}

describe('readBearer', () => {
  it('reads one token68 after the Bearer scheme, case-insensitively', () => {
    expect(read('Bearer abc.DEF-_~+/ghi==')).toEqual({ type: 'token', token: 'abc.DEF-_~+/ghi==' });
    expect(read('bearer abc')).toEqual({ type: 'token', token: 'abc' });
    expect(read('BEARER abc')).toEqual({ type: 'token', token: 'abc' });
    expect(read('Bearer    abc')).toEqual({ type: 'token', token: 'abc' });
    expect(read('  Bearer abc  ')).toEqual({ type: 'token', token: 'abc' });
  });

  it('sees no bearer token without the header or with another scheme', () => {
    expect(read()).toEqual({ type: 'none' });
    expect(read('')).toEqual({ type: 'none' });
    expect(read('Basic YWxpY2U6c2VjcmV0')).toEqual({ type: 'none' });
    expect(read('Bearerabc')).toEqual({ type: 'none' });
    expect(read('DPoP abc')).toEqual({ type: 'none' });
  });

  it('calls malformed: no token, two tokens, joined headers, characters outside token68, padding inside', () => {
    for (const value of [
      'Bearer',
      'Bearer ',
      'Bearer a b',
      'Bearer a, Bearer b',
      'Bearer a,b',
      'Bearer "abc"',
      'Bearer ab=c',
      'Bearer a\tb',
      'Bearer ünïcode',
    ]) {
      expect(read(value), value).toEqual({ type: 'malformed' });
    }
  });
});
