/**
 * Request bodies: reading a raw body with a byte cap (a declared `Content-Length` over the cap is
 * refused before a byte is read; a stream that grows past it is abandoned there), the
 * `Content-Type` rules, and parsing into a JSON object or form parameters. A body a framework
 * parser already read (`parsedBody`) goes through the same content-type rules. Web APIs only.
 */

import { isPlainObject } from '../services/validate.js';
import { errorResponse } from './responses.js';
import type { HttpBody, HttpRequest, HttpResponse } from './types.js';

/** The outcome of {@link readBody}. */
export type BodyRead = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false };

/**
 * Reads a raw body into one buffer, stopping as soon as it exceeds `maxBytes` (then `ok: false`).
 * Accepts a web `ReadableStream`, any async iterable of byte or string chunks (a Node request), or
 * `null` (no body: zero bytes).
 *
 * @example
 * ```ts
 * const read = await readBody(request.body, 16 * 1024);
 * if (!read.ok) return errorResponse(413, 'invalid_request', 'body_too_large', 'The body is too large.');
 * ```
 */
export async function readBody(body: HttpBody, maxBytes: number): Promise<BodyRead> {
  if (body === null) return { ok: true, bytes: new Uint8Array(0) };
  const chunks: Uint8Array[] = [];
  let total = 0;
  const take = (chunk: Uint8Array | string): boolean => {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    total += bytes.byteLength;
    if (total > maxBytes) return false;
    chunks.push(bytes);
    return true;
  };
  if (isReadableStream(body)) {
    const reader = body.getReader();
    try {
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        // The rest is left unread; cancelling would tear down the connection the 413 goes out on.
        if (!take(next.value)) return { ok: false };
      }
    } finally {
      reader.releaseLock();
    }
  } else {
    // The iterator is driven by hand: `for await` would call return() on overflow, which destroys a
    // Node request together with its socket before the 413 can be written.
    const iterator = body[Symbol.asyncIterator]();
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      if (!take(next.value)) return { ok: false };
    }
  }
  return { ok: true, bytes: concat(chunks, total) };
}

/** The body kinds a route accepts. */
export type BodyKind = 'json' | 'form';

/** A body read and parsed by {@link readRequestBody}. */
export type ParsedBody =
  | { readonly type: 'json'; readonly value: Record<string, unknown> }
  | { readonly type: 'form'; readonly value: URLSearchParams }
  /** No `Content-Type` and zero bytes. */
  | { readonly type: 'empty' };

const MEDIA_TYPES: Readonly<Record<BodyKind, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

/**
 * Reads and parses a request body of one of the `accepted` kinds. Refusals are responses:
 * 415 `unsupported_media_type` (another `Content-Type`, a charset other than UTF-8, or a body
 * without `Content-Type`), 413 `body_too_large`, 400 `invalid_json` (not a JSON object) and
 * 400 `invalid_request` (a form body that is not UTF-8).
 *
 * @example
 * ```ts
 * const read = await readRequestBody(request, ['json', 'form'], 16 * 1024);
 * if (!read.ok) return read.response;
 * ```
 */
export async function readRequestBody(
  request: Pick<HttpRequest, 'headers' | 'body' | 'parsedBody'>,
  accepted: readonly BodyKind[],
  maxBytes: number,
): Promise<
  { readonly ok: true; readonly body: ParsedBody } | { readonly ok: false; readonly response: HttpResponse }
> {
  const media = parseContentType(request.headers.get('content-type'));
  const kind = media === undefined ? undefined : accepted.find((k) => MEDIA_TYPES[k] === media.type);
  if (media !== undefined && (kind === undefined || !isUtf8(media.charset))) {
    return { ok: false, response: unsupportedMediaType(accepted) };
  }
  const declared = declaredLength(request.headers.get('content-length'));
  if (declared !== undefined && declared > maxBytes) return { ok: false, response: bodyTooLarge(maxBytes) };

  let bytes: Uint8Array;
  if (request.parsedBody !== undefined && !isRaw(request.parsedBody)) {
    if (kind === undefined) return { ok: false, response: unsupportedMediaType(accepted) };
    return fromParsed(request.parsedBody, kind);
  }
  if (request.parsedBody !== undefined) {
    bytes = typeof request.parsedBody === 'string' ? encoder.encode(request.parsedBody) : request.parsedBody;
    if (bytes.byteLength > maxBytes) return { ok: false, response: bodyTooLarge(maxBytes) };
  } else {
    const read = await readBody(request.body, maxBytes);
    if (!read.ok) return { ok: false, response: bodyTooLarge(maxBytes) };
    bytes = read.bytes;
  }
  if (kind === undefined) {
    return bytes.byteLength === 0
      ? { ok: true, body: { type: 'empty' } }
      : { ok: false, response: unsupportedMediaType(accepted) };
  }
  if (kind === 'json') {
    const value = parseJsonObject(bytes);
    return value === undefined
      ? { ok: false, response: invalidJson() }
      : { ok: true, body: { type: 'json', value } };
  }
  const text = decodeUtf8(bytes);
  if (text === undefined) {
    return {
      ok: false,
      response: errorResponse(400, 'invalid_request', 'invalid_request', 'The form body is not UTF-8.'),
    };
  }
  return { ok: true, body: { type: 'form', value: new URLSearchParams(text) } };
}

/**
 * The media type (lower case, parameters dropped) and charset of a `Content-Type` header, or
 * `undefined` when the header is absent or not of the form `type/subtype[; params]`.
 *
 * @example
 * ```ts
 * parseContentType('Application/JSON; charset=UTF-8'); // { type: 'application/json', charset: 'utf-8' }
 * ```
 */
export function parseContentType(
  header: string | null,
): { readonly type: string; readonly charset?: string } | undefined {
  if (header === null) return undefined;
  const [essence = '', ...params] = header.split(';');
  const type = essence.trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) return { type: '' };
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    if (param.slice(0, eq).trim().toLowerCase() === 'charset') {
      return {
        type,
        charset: param
          .slice(eq + 1)
          .trim()
          .replace(/^"|"$/g, '')
          .toLowerCase(),
      };
    }
  }
  return { type };
}

/**
 * Parses UTF-8 JSON text that must be an object. `__proto__` members are dropped at every depth, so
 * an app that later merges the object cannot have its prototype replaced. `undefined` otherwise.
 *
 * @example
 * ```ts
 * parseJsonObject(new TextEncoder().encode('{"a":1}')); // { a: 1 }
 * parseJsonObject(new TextEncoder().encode('[1]')); // undefined
 * ```
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  const text = decodeUtf8(bytes);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text, (key, member: unknown) => (key === '__proto__' ? undefined : member));
  } catch {
    return undefined;
  }
  return isPlainObject(value) ? value : undefined;
}

/** A body a framework parser produced: a plain JSON object, or flat form fields. */
function fromParsed(
  parsed: unknown,
  kind: BodyKind,
):
  | { readonly ok: true; readonly body: ParsedBody }
  | { readonly ok: false; readonly response: HttpResponse } {
  if (!isPlainObject(parsed)) return { ok: false, response: invalidJson() };
  if (kind === 'json') {
    // Re-parsed so the object handed on is a fresh plain one, with the same __proto__ rule.
    const value = parseJsonObject(encoder.encode(JSON.stringify(parsed)));
    return value === undefined
      ? { ok: false, response: invalidJson() }
      : { ok: true, body: { type: 'json', value } };
  }
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(parsed)) {
    const values = Array.isArray(value) ? value : [value];
    if (!values.every((item) => typeof item === 'string')) {
      return {
        ok: false,
        response: errorResponse(
          400,
          'invalid_request',
          'invalid_request',
          'The form body has nested fields.',
        ),
      };
    }
    for (const item of values) form.append(name, item as string);
  }
  return { ok: true, body: { type: 'form', value: form } };
}

function isRaw(value: unknown): value is Uint8Array | string {
  return typeof value === 'string' || value instanceof Uint8Array;
}

function isUtf8(charset: string | undefined): boolean {
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

function declaredLength(header: string | null): number | undefined {
  if (header === null || !/^\s*\d+\s*$/.test(header)) return undefined;
  return Number(header);
}

function isReadableStream(body: NonNullable<HttpBody>): body is ReadableStream<Uint8Array> {
  return typeof (body as ReadableStream<Uint8Array>).getReader === 'function';
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * 415 naming the accepted media types.
 *
 * @example
 * ```ts
 * unsupportedMediaType(['json']); // 415 { code: 'unsupported_media_type', … }
 * ```
 */
export function unsupportedMediaType(accepted: readonly BodyKind[]): HttpResponse {
  const types = accepted.map((kind) => MEDIA_TYPES[kind]).join(' or ');
  return errorResponse(
    415,
    'invalid_request',
    'unsupported_media_type',
    `The body must be ${types} (UTF-8).`,
  );
}

/** 413; the rest of the body is still on the connection, unread, so the connection is not reused. */
function bodyTooLarge(maxBytes: number): HttpResponse {
  return errorResponse(
    413,
    'invalid_request',
    'body_too_large',
    `The body is larger than ${maxBytes} bytes.`,
    [['Connection', 'close']],
  );
}

function invalidJson(): HttpResponse {
  return errorResponse(400, 'invalid_request', 'invalid_json', 'The body must be a JSON object.');
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
