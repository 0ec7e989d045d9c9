/**
 * The only place the Hono adapter touches the neutral shapes: it writes the core's response through
 * the context (so headers other middleware set survive) and finds the client address on the
 * runtimes that expose one. No rule lives here — statuses, headers and bodies all come from the core.
 * Runtime-neutral: no `node:` import.
 */

import type { HttpResponse } from '@sessionkit/sessions-core/http';
import type { Context } from 'hono';
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status';

/**
 * Writes a neutral response: status, every header in order (repeats appended), the body as JSON.
 *
 * @example
 * ```ts
 * if (!result.ok) return respond(c, result.response);
 * ```
 */
export function respond(c: Context, response: HttpResponse): Response {
  for (const [name, value] of response.headers) c.header(name, value, { append: true });
  if (response.body === undefined) return c.body(null, response.status as StatusCode);
  c.header('Content-Type', 'application/json; charset=UTF-8');
  return c.body(JSON.stringify(response.body), response.status as ContentfulStatusCode);
}

/**
 * The peer address where the runtime exposes it through `c.env`: `@hono/node-server` (and
 * `@hono/node-ws`) pass the Node request as `env.incoming`; Bun passes its server, whose
 * `requestIP()` knows it. Elsewhere `undefined` (pass `getClientIp`).
 *
 * @example
 * ```ts
 * const ip = defaultClientIp(c); // '203.0.113.7' on Node and Bun
 * ```
 */
export function defaultClientIp(c: Context): string | undefined {
  const env = c.env as
    | {
        readonly incoming?: { readonly socket?: { readonly remoteAddress?: unknown } };
        readonly requestIP?: (request: Request) => { readonly address?: unknown } | null;
      }
    | undefined;
  const node = env?.incoming?.socket?.remoteAddress;
  if (typeof node === 'string') return node;
  if (typeof env?.requestIP === 'function') {
    try {
      const address = env.requestIP(c.req.raw)?.address;
      if (typeof address === 'string') return address;
    } catch {
      // Not Bun's server after all.
    }
  }
  return undefined;
}
