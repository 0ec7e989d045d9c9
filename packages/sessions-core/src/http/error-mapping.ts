/**
 * What a thrown error becomes over HTTP. Expected outcomes never get here (they are values mapped by
 * the routes); what does is a fault. A store that cannot be reached or keeps conflicting is 503 with
 * `Retry-After: 1` — nothing was decided, the client may retry — never a 401 that would log the user
 * out. Anything else is a generic 500 whose body says nothing about the error.
 */

import { isSessionKitError } from '../errors.js';
import { errorResponse } from './responses.js';
import type { HttpResponse } from './types.js';

/**
 * Maps a thrown error to a response: `store_unavailable` / `store_conflict` → 503
 * `temporarily_unavailable` with `Retry-After: 1`; anything else → 500 `server_error`.
 *
 * @example
 * ```ts
 * try {
 *   return await route(request);
 * } catch (error) {
 *   return responseForError(error);
 * }
 * ```
 */
export function responseForError(error: unknown): HttpResponse {
  if (isStoreFault(error)) {
    return errorResponse(
      503,
      'temporarily_unavailable',
      'store_unavailable',
      'The session store is unavailable. Retry shortly.',
      [['Retry-After', '1']],
    );
  }
  return errorResponse(500, 'server_error', 'internal', 'An internal error occurred.');
}

/**
 * True for the faults that mean "the store could not decide", by `code` so it holds across package copies.
 *
 * @example
 * ```ts
 * isStoreFault(new StoreUnavailableError('redis down')); // true
 * ```
 */
export function isStoreFault(error: unknown): boolean {
  return isSessionKitError(error) && (error.code === 'store_unavailable' || error.code === 'store_conflict');
}

/**
 * The default `onError`: one line with the error's name and code, never its message (an app error
 * could quote anything, a request body included).
 *
 * @example
 * ```ts
 * const report = options.onError ?? reportError;
 * ```
 */
export function reportError(error: unknown): void {
  const name = error instanceof Error ? error.name : typeof error;
  const code = isSessionKitError(error) ? ` (${error.code})` : '';
  console.error(`sessionkit: request failed with ${name}${code}; pass onError to see the error`);
}
