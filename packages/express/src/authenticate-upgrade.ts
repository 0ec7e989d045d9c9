/**
 * WebSocket upgrades on a Node `http.Server` (with `ws` or any library that takes over after the
 * `'upgrade'` event): `authenticateUpgrade` runs the core's resource guard on the upgrade request,
 * `rejectUpgrade` writes its refusal onto the raw socket. Keep the connection honest afterwards with
 * `watchSession`.
 */

import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { createResourceGuard, type ResourceOptions } from '@sessionkit/sessions-core/http';
import type { AccessTokenClaims } from '@sessionkit/sessions-core/verify';
import { headerReader } from './internal/translate.js';

/** The outcome of an upgrade authentication: the claims, or the response to refuse with. */
export type UpgradeAuthResult =
  | { readonly ok: true; readonly claims: AccessTokenClaims }
  | {
      readonly ok: false;
      readonly status: number;
      readonly headers: [string, string][];
      /** The JSON error body (`{ error, error_description, code }`). */
      readonly body?: unknown;
    };

/**
 * An authenticator for upgrade requests: `Authorization: Bearer` only (browsers cannot set it on a
 * WebSocket; use it from servers, native apps, or behind a proxy that adds it). Options are validated now.
 *
 * @example
 * ```ts
 * import { WebSocketServer } from 'ws';
 * import { authenticateUpgrade, rejectUpgrade, watchSession } from '@sessionkit/express';
 *
 * const wss = new WebSocketServer({ noServer: true });
 * const authenticate = authenticateUpgrade({ verifier });
 * server.on('upgrade', async (req, socket, head) => {
 *   const auth = await authenticate(req);
 *   if (!auth.ok) return rejectUpgrade(socket, auth);
 *   wss.handleUpgrade(req, socket, head, (ws) => {
 *     const stop = watchSession({ claims: auth.claims, revocations, close: (code, reason) => ws.close(code, reason) });
 *     ws.on('close', stop);
 *   });
 * });
 * ```
 */
export function authenticateUpgrade(
  options: ResourceOptions,
): (req: IncomingMessage) => Promise<UpgradeAuthResult> {
  const guard = createResourceGuard(options);
  return async function sessionkitAuthenticateUpgrade(req) {
    const result = await guard.authenticate({ headers: headerReader(req) });
    if (result.ok) return { ok: true, claims: result.claims };
    const { status, headers, body } = result.response;
    return {
      ok: false,
      status,
      headers: headers.map(([name, value]): [string, string] => [name, value]),
      ...(body === undefined ? {} : { body }),
    };
  };
}

/**
 * Answers a refused upgrade on the raw socket (status line, the refusal's headers, JSON body) and
 * closes it.
 *
 * @example
 * ```ts
 * const auth = await authenticate(req);
 * if (!auth.ok) return rejectUpgrade(socket, auth);
 * ```
 */
export function rejectUpgrade(
  socket: Duplex,
  refusal: {
    readonly status: number;
    readonly headers: readonly (readonly [string, string])[];
    readonly body?: unknown;
  },
): void {
  const body = refusal.body === undefined ? '' : JSON.stringify(refusal.body);
  const lines = [
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? ''}`.trimEnd(),
    ...refusal.headers.map(([name, value]) => `${name}: ${value}`),
    ...(body === '' ? [] : ['Content-Type: application/json; charset=utf-8']),
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
