/**
 * CSRF defence for cookie mode. A browser attaches the refresh cookie to any request to the
 * authority, so every state-changing route (POST, DELETE) also demands two things a cross-site page
 * cannot forge: an `Origin` header equal to one of the configured origins, and a custom header
 * (which a cross-site form cannot send and a cross-site `fetch` cannot send without a CORS
 * preflight the app does not grant). `SameSite=Strict` is the third layer, not the only one.
 */

import { describeInput } from '../config/duration.js';
import { ConfigError } from '../errors.js';
import type { CookieTransport } from './cookie-transport.js';
import { errorResponse } from './responses.js';
import type { HeaderReader, HttpResponse } from './types.js';

/**
 * Checks `allowedOrigins`: a non-empty list of exact origins, each `scheme://host[:port]` as a
 * browser serialises it (lower-case host, no default port, no path, no trailing slash).
 *
 * @example
 * ```ts
 * resolveAllowedOrigins(['https://app.example.com']); // Set { 'https://app.example.com' }
 * resolveAllowedOrigins(['https://app.example.com/']); // throws ConfigError
 * ```
 */
export function resolveAllowedOrigins(value: unknown): ReadonlySet<string> {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigError(
      "refreshToken.allowedOrigins is required in cookie mode: the origins of your web app, e.g. ['https://app.example.com']",
    );
  }
  const origins = new Set<string>();
  for (let index = 0; index < value.length; index++) {
    const origin: unknown = value[index];
    if (typeof origin !== 'string' || serialisedOrigin(origin) !== origin) {
      const hint = typeof origin === 'string' ? serialisedOrigin(origin) : undefined;
      throw new ConfigError(
        `refreshToken.allowedOrigins[${index}] must be an origin: scheme://host[:port], no path or trailing slash ` +
          `(got ${describeInput(origin)}${hint === undefined ? '' : `; did you mean ${JSON.stringify(hint)}?`})`,
      );
    }
    origins.add(origin);
  }
  return origins;
}

/**
 * The CSRF check of a state-changing route in cookie mode: `undefined` when `Origin` is allowed and
 * the CSRF header is present and non-empty, else 403 `{ error: 'invalid_request', code: 'csrf_failed' }`.
 *
 * @example
 * ```ts
 * const refused = checkCsrf(request.headers, transport);
 * if (refused !== undefined) return refused;
 * ```
 */
export function checkCsrf(headers: HeaderReader, transport: CookieTransport): HttpResponse | undefined {
  const origin = headers.get('origin');
  const marker = headers.get(transport.csrfHeader);
  if (origin !== null && transport.allowedOrigins.has(origin) && marker !== null && marker.trim() !== '') {
    return undefined;
  }
  return errorResponse(
    403,
    'invalid_request',
    'csrf_failed',
    `Cross-site request refused: send an allowed Origin and the ${transport.csrfHeader} header.`,
  );
}

/** How a browser would serialise `text` as an origin, or `undefined` when it is not an http(s) URL. */
function serialisedOrigin(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return url.origin;
}
