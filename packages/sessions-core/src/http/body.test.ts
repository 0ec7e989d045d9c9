/**
 * Body reading with a byte cap over every body shape an adapter hands in, and the content-type and
 * parsing rules of readRequestBody.
 */

import { describe, expect, it } from 'vitest';
import { type ParsedBody, parseContentType, parseJsonObject, readBody, readRequestBody } from './body.js';
import type { HttpRequest, HttpResponse } from './types.js';

const encoder = new TextEncoder();

function webStream(
  parts: readonly (Uint8Array | string)[],
): ReadableStream<Uint8Array> & { cancelled: boolean } {
  let index = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts[index++];
      if (part === undefined) controller.close();
      else controller.enqueue(typeof part === 'string' ? encoder.encode(part) : part);
    },
    cancel() {
      (stream as { cancelled?: boolean }).cancelled = true;
    },
  });
  return Object.assign(stream, { cancelled: false });
}

/** An async iterable that records how far it was pulled and whether return() was called. */
function nodeLike(parts: readonly (Uint8Array | string)[]) {
  const state = { pulled: 0, returned: false };
  const iterable: AsyncIterable<Uint8Array | string> = {
    [Symbol.asyncIterator]() {
      return {
        next: async () => {
          const part = parts[state.pulled];
          if (part === undefined) return { done: true, value: undefined };
          state.pulled++;
          return { done: false, value: part };
        },
        return: async () => {
          state.returned = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { iterable, state };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('readBody', () => {
  it('reads a web stream, a Node-like iterable of bytes or strings, and null', async () => {
    const fromStream = await readBody(webStream(['ab', 'cd']), 10);
    expect(fromStream.ok && text(fromStream.bytes)).toBe('abcd');
    const fromIterable = await readBody(nodeLike([encoder.encode('ab'), 'cd']).iterable, 10);
    expect(fromIterable.ok && text(fromIterable.bytes)).toBe('abcd');
    const none = await readBody(null, 10);
    expect(none.ok && none.bytes.byteLength).toBe(0);
  });

  it('accepts exactly maxBytes and refuses one byte more, counting bytes not characters', async () => {
    expect((await readBody(webStream(['12345', '67890']), 10)).ok).toBe(true);
    expect((await readBody(webStream(['12345', '678901']), 10)).ok).toBe(false);
    expect((await readBody(nodeLike(['éééé', 'é']).iterable, 9)).ok).toBe(false); // 10 bytes of UTF-8
  });

  it('stops pulling at the cap and leaves the source open (no return(), no cancel)', async () => {
    const { iterable, state } = nodeLike(['aaaa', 'bbbb', 'cccc', 'dddd']);
    expect((await readBody(iterable, 6)).ok).toBe(false);
    expect(state.pulled).toBe(2);
    expect(state.returned).toBe(false);
    const stream = webStream(['aaaa', 'bbbb', 'cccc']);
    expect((await readBody(stream, 6)).ok).toBe(false);
    expect(stream.cancelled).toBe(false);
    expect(stream.locked).toBe(false);
  });
});

function requestWith(
  headers: Record<string, string>,
  body: string | null,
  parsedBody?: unknown,
): Pick<HttpRequest, 'headers' | 'body' | 'parsedBody'> {
  return {
    headers: new Headers(headers),
    body: body === null ? null : webStream([body]),
    ...(parsedBody === undefined ? {} : { parsedBody }),
  };
}

async function parse(
  headers: Record<string, string>,
  body: string | null,
  parsedBody?: unknown,
): Promise<ParsedBody | HttpResponse> {
  const result = await readRequestBody(requestWith(headers, body, parsedBody), ['json', 'form'], 64);
  return result.ok ? result.body : result.response;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' };

describe('readRequestBody', () => {
  it('parses JSON objects and forms of the accepted types', async () => {
    expect(await parse(JSON_TYPE, '{"a":1}')).toEqual({ type: 'json', value: { a: 1 } });
    const form = await parse(FORM_TYPE, 'a=1+2&b=%C3%A9');
    expect(form).toMatchObject({ type: 'form' });
    const params = (form as Extract<ParsedBody, { type: 'form' }>).value;
    expect([params.get('a'), params.get('b')]).toEqual(['1 2', 'é']);
  });

  it('answers 415 for other types, other charsets, malformed types and untyped non-empty bodies', async () => {
    for (const [headers, body] of [
      [{ 'content-type': 'text/plain' }, 'x'],
      [{ 'content-type': 'application/json; charset=utf-16' }, '{}'],
      [{ 'content-type': 'json' }, '{}'],
      [{ 'content-type': 'application/jsonp' }, '{}'],
      [{}, '{"a":1}'],
    ] as const) {
      const response = (await parse(headers, body)) as HttpResponse;
      expect(response.status, JSON.stringify(headers)).toBe(415);
      expect(response.body).toMatchObject({
        code: 'unsupported_media_type',
        error_description: 'The body must be application/json or application/x-www-form-urlencoded (UTF-8).',
      });
    }
  });

  it('treats no Content-Type and no bytes as empty', async () => {
    expect(await parse({}, null)).toEqual({ type: 'empty' });
    expect(await parse({}, '')).toEqual({ type: 'empty' });
  });

  it('answers 413 when Content-Length or the stream exceeds the cap', async () => {
    const declared = (await parse({ ...JSON_TYPE, 'content-length': '65' }, '{}')) as HttpResponse;
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ error: 'invalid_request', code: 'body_too_large' });
    expect(declared.headers).toContainEqual(['Connection', 'close']);
    const streamed = (await parse(JSON_TYPE, `{"a":"${'x'.repeat(70)}"}`)) as HttpResponse;
    expect(streamed.status).toBe(413);
    const raw = (await parse(JSON_TYPE, null, 'x'.repeat(65))) as HttpResponse;
    expect(raw.status).toBe(413);
  });

  it('answers 400 invalid_json for anything but a JSON object, and invalid_request for a non-UTF-8 form', async () => {
    for (const body of ['', '{', '[]', '1', '"s"', 'null', '{"a":1}x']) {
      expect(((await parse(JSON_TYPE, body)) as HttpResponse).body, body).toMatchObject({
        code: 'invalid_json',
      });
    }
    const bad = await readRequestBody(
      { headers: new Headers(FORM_TYPE), body: webStream([new Uint8Array([0x61, 0x3d, 0xff])]) },
      ['form'],
      64,
    );
    expect(!bad.ok && bad.response.body).toMatchObject({ error: 'invalid_request', code: 'invalid_request' });
  });

  it('uses a parsed body: JSON objects, flat forms, raw strings; refuses arrays and nested forms', async () => {
    expect(await parse(JSON_TYPE, null, { a: 1 })).toEqual({ type: 'json', value: { a: 1 } });
    expect(await parse(JSON_TYPE, null, '{"a":2}')).toEqual({ type: 'json', value: { a: 2 } });
    expect(((await parse(JSON_TYPE, null, [1])) as HttpResponse).body).toMatchObject({
      code: 'invalid_json',
    });
    const form = (await parse(FORM_TYPE, null, { a: ['1', '2'], b: '3' })) as Extract<
      ParsedBody,
      { type: 'form' }
    >;
    expect(form.value.toString()).toBe('a=1&a=2&b=3');
    expect(((await parse(FORM_TYPE, null, { a: { b: '1' } })) as HttpResponse).status).toBe(400);
    expect(((await parse({ 'content-type': 'text/plain' }, null, { a: 1 })) as HttpResponse).status).toBe(
      415,
    );
  });
});

describe('parseContentType', () => {
  it('lower-cases the essence, drops parameters and reads the charset', () => {
    expect(parseContentType('Application/JSON ; Charset="UTF-8" ; x=y')).toEqual({
      type: 'application/json',
      charset: 'utf-8',
    });
    expect(parseContentType('application/json')).toEqual({ type: 'application/json' });
    expect(parseContentType(null)).toBeUndefined();
    expect(parseContentType('not a type')).toEqual({ type: '' });
  });
});

describe('parseJsonObject', () => {
  it('drops __proto__ members at every depth', () => {
    const value = parseJsonObject(encoder.encode('{"a":{"__proto__":{"x":1},"b":2},"__proto__":{"y":1}}'));
    expect(value).toEqual({ a: { b: 2 } });
    expect(Object.hasOwn(value ?? {}, '__proto__')).toBe(false);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});
