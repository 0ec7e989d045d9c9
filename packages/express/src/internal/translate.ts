/**
 * The only place the Express adapter touches the neutral shapes: it reads an Express (or plain Node)
 * request into what `@sessionkit/sessions-core/http` expects, and writes the core's response back
 * verbatim. No rule lives here — statuses, headers and bodies all come from the core.
 */

import type { IncomingMessage } from 'node:http';
import type { HeaderReader, HttpResponse } from '@sessionkit/sessions-core/http';
import type { Response } from 'express';

/**
 * Case-insensitive header access over a Node request; repeated headers are joined with `, `
 * (Node already joins `Cookie` with `; ` and keeps one `Authorization`).
 *
 * @example
 * ```ts
 * headerReader(req).get('authorization');
 * ```
 */
export function headerReader(request: IncomingMessage): HeaderReader {
  return {
    get(name) {
      const value = request.headers[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * Writes a neutral response: status, every header in order (repeats appended), and the body as JSON.
 *
 * @example
 * ```ts
 * writeResponse(res, result.response);
 * ```
 */
export function writeResponse(res: Response, response: HttpResponse): void {
  res.status(response.status);
  for (const [name, value] of response.headers) res.append(name, value);
  if (response.body === undefined) res.end();
  else res.json(response.body);
}
