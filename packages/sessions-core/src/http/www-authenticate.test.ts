/** The WWW-Authenticate challenge formats of RFC 6750 §3 and RFC 9470. */

import { describe, expect, it } from 'vitest';
import { bearerChallenge } from './www-authenticate.js';

describe('bearerChallenge', () => {
  it('writes realm alone when the request had no token', () => {
    expect(bearerChallenge('sessionkit')).toBe('Bearer realm="sessionkit"');
  });

  it('writes error, scope, acr_values and max_age as quoted auth-params in a fixed order', () => {
    expect(bearerChallenge('api', { error: 'invalid_token' })).toBe(
      'Bearer realm="api", error="invalid_token"',
    );
    expect(bearerChallenge('api', { error: 'insufficient_scope', scope: 'orders:read orders:write' })).toBe(
      'Bearer realm="api", error="insufficient_scope", scope="orders:read orders:write"',
    );
    expect(
      bearerChallenge('api', { error: 'insufficient_user_authentication', acr_values: 'aal2 aal3' }),
    ).toBe('Bearer realm="api", error="insufficient_user_authentication", acr_values="aal2 aal3"');
    expect(bearerChallenge('api', { error: 'insufficient_user_authentication', max_age: 300 })).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", max_age="300"',
    );
  });

  it('escapes quotes and backslashes so a value cannot break out of its quoted-string', () => {
    expect(bearerChallenge('a"b\\c')).toBe('Bearer realm="a\\"b\\\\c"');
  });
});
