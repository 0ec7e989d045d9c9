/** Cookie-mode CSRF: allowed origins validated at creation, Origin plus custom header per request. */

import { describe, expect, it } from 'vitest';
import type { CookieTransport } from './cookie-transport.js';
import { checkCsrf, resolveAllowedOrigins } from './csrf.js';

describe('resolveAllowedOrigins', () => {
  it('accepts exact origins with or without a port', () => {
    expect([...resolveAllowedOrigins(['https://app.example.com', 'http://localhost:5173'])]).toEqual([
      'https://app.example.com',
      'http://localhost:5173',
    ]);
  });

  it('refuses paths, trailing slashes, default ports, upper case, other schemes and non-strings, with a hint', () => {
    const cases: [unknown, RegExp][] = [
      ['https://app.example.com/', /allowedOrigins\[0\].*did you mean "https:\/\/app.example.com"\?/],
      ['https://app.example.com/login', /did you mean "https:\/\/app.example.com"/],
      ['https://app.example.com:443', /did you mean "https:\/\/app.example.com"/],
      ['https://App.Example.com', /did you mean "https:\/\/app.example.com"/],
      ['app.example.com', /must be an origin: scheme:\/\/host\[:port\]/],
      ['ftp://files.example.com', /must be an origin/],
      ['*', /must be an origin/],
      [42, /got 42/],
    ];
    for (const [origin, message] of cases) {
      expect(() => resolveAllowedOrigins([origin]), String(origin)).toThrow(message);
    }
  });

  it('refuses an empty or missing list', () => {
    for (const value of [[], undefined, 'https://app.example.com']) {
      expect(() => resolveAllowedOrigins(value)).toThrow(/allowedOrigins is required in cookie mode/);
    }
  });
});

describe('checkCsrf', () => {
  const transport: CookieTransport = {
    mode: 'cookie',
    name: '__Host-rt',
    path: '/',
    allowedOrigins: new Set(['https://app.example.com']),
    csrfHeader: 'x-sessionkit-csrf',
  };
  const check = (headers: Record<string, string>) => checkCsrf(new Headers(headers), transport);

  it('passes with an allowed Origin and a non-empty CSRF header (any value, any header case)', () => {
    expect(check({ Origin: 'https://app.example.com', 'X-SessionKit-CSRF': 'fetch' })).toBeUndefined();
  });

  it('refuses with 403 csrf_failed otherwise', () => {
    for (const headers of [
      {},
      { origin: 'https://app.example.com' },
      { 'x-sessionkit-csrf': '1' },
      { origin: 'https://evil.example', 'x-sessionkit-csrf': '1' },
      { origin: 'https://app.example.com.evil.example', 'x-sessionkit-csrf': '1' },
      { origin: 'http://app.example.com', 'x-sessionkit-csrf': '1' },
      { origin: 'null', 'x-sessionkit-csrf': '1' },
      { origin: 'https://app.example.com', 'x-sessionkit-csrf': '' },
    ]) {
      const response = check(headers);
      expect(response?.status, JSON.stringify(headers)).toBe(403);
      expect(response?.body).toMatchObject({ error: 'invalid_request', code: 'csrf_failed' });
      expect(response?.headers).toContainEqual(['Cache-Control', 'no-store']);
    }
  });
});
