/** Thrown errors to HTTP: store faults are 503 with Retry-After, everything else a generic 500. */

import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigError,
  CryptoError,
  InvalidArgumentError,
  KeyError,
  StoreConflictError,
  StoreUnavailableError,
} from '../errors.js';
import { isStoreFault, reportError, responseForError } from './error-mapping.js';

describe('responseForError', () => {
  it('maps store_unavailable and store_conflict to 503 temporarily_unavailable with Retry-After: 1', () => {
    for (const error of [new StoreUnavailableError('connection refused'), new StoreConflictError('40001')]) {
      expect(responseForError(error)).toEqual({
        status: 503,
        headers: [
          ['Cache-Control', 'no-store'],
          ['Pragma', 'no-cache'],
          ['Retry-After', '1'],
        ],
        body: {
          error: 'temporarily_unavailable',
          error_description: 'The session store is unavailable. Retry shortly.',
          code: 'store_unavailable',
        },
      });
    }
  });

  it('recognises a store fault by its code, across package copies', () => {
    const copy = Object.assign(new Error('from another copy'), { code: 'store_unavailable' });
    expect(responseForError(copy).status).toBe(503);
    expect(isStoreFault({ code: 'store_unavailable' })).toBe(false); // not an Error: not trusted
  });

  it('maps every other error, and non-errors, to a generic 500 that quotes nothing', () => {
    const errors: unknown[] = [
      new Error('skr_secret-token-value leaked into a message'),
      new TypeError('x is undefined'),
      new ConfigError('bad'),
      new InvalidArgumentError('bad'),
      new CryptoError('bad'),
      new KeyError('bad'),
      Object.assign(new Error('x'), { code: 'ECONNRESET' }),
      'a string',
      undefined,
    ];
    for (const error of errors) {
      const response = responseForError(error);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        error: 'server_error',
        error_description: 'An internal error occurred.',
        code: 'internal',
      });
    }
  });
});

describe('reportError', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('logs the name and code only, never the message', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    reportError(new StoreUnavailableError('redis://user:password@host'));
    reportError(new Error('token skr_abc'));
    expect(log.mock.calls.map((call) => call.join(' '))).toEqual([
      'sessionkit: request failed with StoreUnavailableError (store_unavailable); pass onError to see the error',
      'sessionkit: request failed with Error; pass onError to see the error',
    ]);
  });
});
