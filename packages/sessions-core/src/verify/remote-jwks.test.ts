import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isSessionKitError, type SessionKitError } from '../errors.js';
import { createFakeClock, type FakeClock } from '../runtime/clock.js';
import {
  createRemoteJwks,
  type RemoteJwks,
  type RemoteJwksError,
  type RemoteJwksOptions,
} from './remote-jwks.js';
import type { KeyLookup, VerificationKey } from './types.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const TTL = 10 * MINUTE;
const SWR = HOUR;
const COOLDOWN = 30 * SECOND;
const FORMS = "a number of seconds or a string such as '10m'";

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface TestServer {
  readonly url: string;
  readonly origin: string;
  /** Requests received per path. */
  hits(path?: string): number;
  handle(handler: Handler): void;
  serve(body: unknown, status?: number): void;
  close(): Promise<void>;
}

async function startServer(): Promise<TestServer> {
  let handler: Handler = (_request, response) => response.writeHead(404).end();
  const paths: string[] = [];
  const server = createServer((request, response) => {
    paths.push(request.url ?? '');
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/jwks.json`,
    origin,
    hits: (path = '/jwks.json') => paths.filter((each) => each === path).length,
    handle(next) {
      handler = next;
    },
    serve(body, status = 200) {
      handler = (_request, response) => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function publicKey(alg: 'EdDSA' | 'ES256' | 'RS256', kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  return { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
}

let server: TestServer;
let clock: FakeClock;
let fetches: number;
let errors: RemoteJwksError[];
let k1: JWK;
let k2: JWK;
let k3: JWK;

beforeAll(async () => {
  k1 = await publicKey('EdDSA', 'k1');
  k2 = await publicKey('ES256', 'k2');
  k3 = await publicKey('RS256', 'k3');
});

beforeEach(async () => {
  server = await startServer();
  server.serve({ keys: [k1, k2] });
  clock = createFakeClock();
  fetches = 0;
  errors = [];
});

afterEach(async () => {
  await server.close();
});

/** A remote JWKS on the test server with a counting fetch, the fake clock and an error log. */
function remote(options: RemoteJwksOptions = {}, url: string = server.url): RemoteJwks {
  return createRemoteJwks(url, {
    clock,
    fetch: (input, init) => {
      fetches++;
      return fetch(input, init);
    },
    onError: (error) => errors.push(error),
    ...options,
  });
}

/** Waits until no fetch is in flight (background refreshes included). */
async function idle(jwks: RemoteJwks): Promise<void> {
  while (jwks.status().refreshing) await new Promise((resolve) => setTimeout(resolve, 2));
}

function kidOf(lookup: KeyLookup): string {
  return typeof lookup === 'string' ? lookup : lookup.kid;
}

describe('createRemoteJwks: cache states', () => {
  it('fetches nothing when created, then serves a fresh cache with no fetch', async () => {
    const jwks = remote();
    expect(fetches).toBe(0);
    await jwks.refresh();
    expect(fetches).toBe(1);
    const first = jwks.resolve('k1');
    expect(first).not.toBeInstanceOf(Promise);
    expect(kidOf(first as KeyLookup)).toBe('k1');
    clock.advance(TTL - 1);
    expect(jwks.resolve('k1')).toBe(first);
    expect(jwks.peek('k2')?.algorithms).toEqual(['ES256']);
    expect(jwks.status()).toMatchObject({
      source: 'remote',
      freshness: 'fresh',
      keyCount: 2,
      refreshing: false,
    });
    expect(fetches).toBe(1);
    expect(server.hits()).toBe(1);
  });

  it('serves a stale cache at once and refreshes it once in the background', async () => {
    const jwks = remote();
    await jwks.refresh();
    const before = jwks.peek('k1');
    clock.advance(TTL);
    expect(jwks.status().freshness).toBe('stale');
    const lookups = Array.from({ length: 20 }, () => jwks.resolve('k1'));
    for (const lookup of lookups) expect(lookup).toBe(before);
    expect(fetches).toBe(2);
    expect(jwks.status().refreshing).toBe(true);
    await idle(jwks);
    expect(server.hits()).toBe(2);
    expect(jwks.status()).toMatchObject({ freshness: 'fresh', fetchedAt: clock.now(), lastError: undefined });
    expect(jwks.resolve('k1')).not.toBeInstanceOf(Promise);
    expect(fetches).toBe(2);
  });

  it('awaits a fetch once the cache is older than ttl + staleWhileRevalidate, and does not serve it meanwhile', async () => {
    const jwks = remote();
    await jwks.refresh();
    clock.advance(TTL + SWR);
    expect(jwks.peek('k1')).toBeUndefined();
    expect(jwks.status().freshness).toBe('expired');
    const pending = jwks.resolve('k1');
    expect(pending).toBeInstanceOf(Promise);
    expect(kidOf(await pending)).toBe('k1');
    expect(fetches).toBe(2);
    expect(jwks.peek('k1')).toBeDefined();
  });

  it('answers jwks_unavailable when there is no usable cache and the fetch fails, and fails fast until cooldown', async () => {
    server.serve({ error: 'down' }, 500);
    const jwks = remote();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors).toEqual([{ code: 'http_status', message: `JWKS ${server.url}: HTTP 500` }]);
    expect(jwks.status().lastError?.code).toBe('http_status');
    // Within the cooldown a failed source is not asked again.
    expect(jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(fetches).toBe(1);
    server.serve({ keys: [k1] });
    clock.advance(COOLDOWN);
    expect(kidOf(await jwks.resolve('k1'))).toBe('k1');
    expect(fetches).toBe(2);
    expect(jwks.status().lastError).toBeUndefined();
  });

  it('keeps serving a stale cache while refreshes fail, retries once per cooldown, and stops at ttl + swr', async () => {
    const jwks = remote();
    await jwks.refresh();
    const key = jwks.peek('k1');
    server.serve({}, 503);
    clock.advance(TTL + 1);
    expect(jwks.resolve('k1')).toBe(key);
    await idle(jwks);
    expect(errors.map((error) => error.code)).toEqual(['http_status']);
    expect(jwks.resolve('k1')).toBe(key);
    clock.advance(COOLDOWN - 1);
    expect(jwks.resolve('k1')).toBe(key);
    expect(fetches).toBe(2);
    clock.advance(1);
    expect(jwks.resolve('k1')).toBe(key);
    await idle(jwks);
    expect(fetches).toBe(3);
    expect(errors).toHaveLength(2);
    clock.advance(SWR);
    expect(jwks.peek('k1')).toBeUndefined();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(fetches).toBe(4);
  });

  it('refresh() rejects with a KeyError when the fetch fails and keeps the previous keys', async () => {
    const jwks = remote();
    await jwks.refresh();
    server.serve({}, 500);
    const error = await jwks.refresh().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(isSessionKitError(error) && error.code).toBe('key_error');
    expect((error as SessionKitError).message).toBe(`JWKS ${server.url}: HTTP 500`);
    expect(jwks.peek('k1')?.kid).toBe('k1');
    expect(jwks.status().keyCount).toBe(2);
  });
});

describe('createRemoteJwks: unknown kids and single flight', () => {
  it('answers unknown_key at once when the set was fetched within the cooldown', async () => {
    const jwks = remote();
    await jwks.refresh();
    expect(jwks.resolve('nope')).toBe('unknown_key');
    expect(fetches).toBe(1);
  });

  it('lets 100 random kids cause one refetch per cooldown', async () => {
    const jwks = remote();
    await jwks.refresh();
    clock.advance(COOLDOWN);
    const kids = Array.from({ length: 100 }, () => crypto.randomUUID());
    const results = await Promise.all(kids.map((kid) => jwks.resolve(kid)));
    expect(new Set(results)).toEqual(new Set(['unknown_key']));
    expect(fetches).toBe(2);
    expect(server.hits()).toBe(2);
    const again = await Promise.all(kids.map((kid) => jwks.resolve(kid)));
    expect(new Set(again)).toEqual(new Set(['unknown_key']));
    expect(fetches).toBe(2);
    clock.advance(COOLDOWN);
    expect(await jwks.resolve(crypto.randomUUID())).toBe('unknown_key');
    expect(fetches).toBe(3);
  });

  it('finds a key published after the last fetch once the cooldown has passed', async () => {
    const jwks = remote();
    await jwks.refresh();
    server.serve({ keys: [k1, k2, k3] });
    expect(jwks.resolve('k3')).toBe('unknown_key');
    clock.advance(COOLDOWN);
    const found = await jwks.resolve('k3');
    expect(found).toMatchObject({ kid: 'k3', algorithms: ['RS256'] });
    expect(fetches).toBe(2);
  });

  it('says jwks_unavailable rather than unknown_key when the refetch for an unknown kid failed', async () => {
    const jwks = remote();
    await jwks.refresh();
    server.serve({}, 500);
    clock.advance(COOLDOWN);
    expect(await jwks.resolve('k3')).toBe('jwks_unavailable');
    expect(jwks.resolve('k3')).toBe('jwks_unavailable');
    expect(jwks.resolve('k1')).toBe(jwks.peek('k1'));
    expect(fetches).toBe(2);
  });

  it('shares one fetch among 50 concurrent cold lookups', async () => {
    server.handle((_request, response) => {
      setTimeout(() => response.writeHead(200).end(JSON.stringify({ keys: [k1, k2] })), 30);
    });
    const jwks = remote();
    const lookups = Array.from({ length: 50 }, (_, index) => jwks.resolve(index % 2 === 0 ? 'k1' : 'k2'));
    const results = await Promise.all(lookups);
    expect(fetches).toBe(1);
    expect(server.hits()).toBe(1);
    expect(new Set(results.filter((result) => kidOf(result) === 'k1')).size).toBe(1);
    expect(results.every((result) => typeof result === 'object')).toBe(true);
  });

  it('joins the background refresh for an unknown kid instead of starting a second fetch', async () => {
    const jwks = remote();
    await jwks.refresh();
    server.serve({ keys: [k1, k2, k3] });
    clock.advance(TTL);
    expect(jwks.resolve('k1')).toBe(jwks.peek('k1'));
    const found = await jwks.resolve('k3');
    expect(kidOf(found)).toBe('k3');
    expect(fetches).toBe(2);
  });

  it('answers unknown_key for an impossible kid without fetching', async () => {
    const jwks = remote();
    for (const kid of ['', 'k'.repeat(257), 42 as unknown as string])
      expect(jwks.resolve(kid)).toBe('unknown_key');
    expect(fetches).toBe(0);
  });
});

describe('createRemoteJwks: bounded fetches', () => {
  it('gives up on a server that never answers within the timeout', async () => {
    server.handle(() => {});
    const jwks = remote({ timeout: '200ms' });
    const started = performance.now();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(errors).toEqual([
      { code: 'timeout', message: `JWKS ${server.url}: no complete answer within 200ms` },
    ]);
  });

  it('counts the body in the timeout (headers sent, body stalls)', async () => {
    server.handle((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"keys": [');
    });
    const jwks = remote({ timeout: '200ms' });
    const started = performance.now();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(errors.map((error) => error.code)).toEqual(['timeout']);
  });

  it('bounds the body by the abort signal even when fetch ignores it', async () => {
    const stalling: typeof fetch = async () =>
      new Response(new ReadableStream({ start: (controller) => controller.enqueue(new Uint8Array([123])) }));
    const jwks = remote({ timeout: '150ms', fetch: stalling });
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors.map((error) => error.code)).toEqual(['timeout']);
  });

  it('refuses a body whose declared length is over maxBytes without reading it', async () => {
    server.handle((_request, response) => {
      response.writeHead(200, { 'content-length': String(2 * 1024 * 1024) });
      response.write(' '.repeat(1024));
    });
    const jwks = remote({ timeout: '2s' });
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors).toEqual([
      {
        code: 'too_large',
        message: `JWKS ${server.url}: body declared as 2097152 bytes, over the 65536-byte limit`,
      },
    ]);
  });

  it('stops reading a streamed body (no content-length) once it passes maxBytes', async () => {
    let written = 0;
    server.handle((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"keys":[');
      const timer = setInterval(() => {
        if (response.destroyed || written > 10 * 1024 * 1024) {
          clearInterval(timer);
          response.destroy();
          return;
        }
        written += 16 * 1024;
        response.write(`${' '.repeat(16 * 1024)}`);
      }, 1);
    });
    const jwks = remote({ maxBytes: 4 * 1024, timeout: 5 });
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors.map((error) => error.code)).toEqual(['too_large']);
    expect(written).toBeLessThan(10 * 1024 * 1024);
  });

  it('accepts a body of exactly maxBytes', async () => {
    const json = JSON.stringify({ keys: [k1] });
    const limit = 1024;
    server.handle((_request, response) => {
      response.writeHead(200);
      response.write(json);
      response.end(' '.repeat(limit - json.length));
    });
    const jwks = remote({ maxBytes: limit });
    expect(kidOf(await jwks.resolve('k1'))).toBe('k1');
  });

  it.each([
    ['not JSON', 'this is not json', 'invalid_body'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_body'],
    ['an empty body', '', 'invalid_body'],
    ['an object without keys', '{}', 'invalid_shape'],
    ['keys that is not an array', '{"keys":{"0":{}}}', 'invalid_shape'],
    ['an array', '[]', 'invalid_shape'],
    ['a string', '"keys"', 'invalid_shape'],
    ['null', 'null', 'invalid_shape'],
    ['an empty set', '{"keys":[]}', 'no_valid_keys'],
  ])('treats %s as a failed fetch', async (_name, body, code) => {
    server.handle((_request, response) => response.writeHead(200).end(body));
    const jwks = remote();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors.map((error) => error.code)).toEqual([code]);
  });

  it.each([404, 500, 204, 201])('treats HTTP %i as a failed fetch', async (status) => {
    server.serve({ keys: [k1] }, status);
    const jwks = remote();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors).toEqual([{ code: 'http_status', message: `JWKS ${server.url}: HTTP ${status}` }]);
  });

  it.each([301, 302, 307, 308])('does not follow a %i redirect', async (status) => {
    server.handle((request, response) => {
      if (request.url === '/jwks.json') response.writeHead(status, { location: '/moved.json' }).end();
      else response.writeHead(200).end(JSON.stringify({ keys: [k1] }));
    });
    const jwks = remote();
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(server.hits('/moved.json')).toBe(0);
    expect(errors).toEqual([
      { code: 'redirect', message: `JWKS ${server.url}: redirect (HTTP ${status}) not followed` },
    ]);
  });

  it('never fetches a jku or x5u a key points to', async () => {
    server.serve({
      keys: [{ ...k1, jku: `${server.origin}/jku.json`, x5u: `${server.origin}/x5u.pem` }],
    });
    const jwks = remote();
    const key = (await jwks.resolve('k1')) as VerificationKey;
    expect(key.jwk).not.toHaveProperty('jku');
    expect(key.jwk).not.toHaveProperty('x5u');
    expect(server.hits('/jku.json') + server.hits('/x5u.pem')).toBe(0);
  });

  it('reports a refused connection as a network failure', async () => {
    const url = server.url;
    await server.close();
    const jwks = remote({}, url);
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    expect(errors.map((error) => error.code)).toEqual(['network']);
    expect(errors[0]?.message).toMatch(/ECONNREFUSED/);
    server = await startServer();
  });

  it('sends the configured headers and asks for a JWK Set by default', async () => {
    const seen: IncomingMessage['headers'][] = [];
    server.handle((request, response) => {
      seen.push(request.headers);
      response.writeHead(200).end(JSON.stringify({ keys: [k1] }));
    });
    await remote({ headers: { 'x-api-key': 'abc' } }).refresh();
    await remote({ headers: { accept: 'application/json' } }).refresh();
    expect(seen[0]).toMatchObject({
      'x-api-key': 'abc',
      accept: 'application/jwk-set+json, application/json',
    });
    expect(seen[1]).toMatchObject({ accept: 'application/json' });
  });

  it('uses the global fetch when none is given', async () => {
    const jwks = createRemoteJwks(server.url, { clock });
    await jwks.refresh();
    expect(server.hits()).toBe(1);
    expect(jwks.peek('k1')?.kid).toBe('k1');
  });
});

describe('createRemoteJwks: key handling', () => {
  it('skips unusable keys, serves the rest, and reports the skips once without key material', async () => {
    const secret = 'c2VjcmV0LWtleS1tYXRlcmlhbC10aGF0LW11c3Qtbm90LWxlYWs';
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    server.serve({
      keys: [
        k1,
        { kty: 'oct', kid: 'hmac', k: secret },
        { ...k2, kid: 'leaky', d: secret },
        { ...rsa1024, kid: 'small' },
        { ...k3, use: 'enc' },
        { ...k2, kid: '' },
      ],
    });
    const jwks = remote();
    await jwks.refresh();
    expect(jwks.peek('k1')?.kid).toBe('k1');
    for (const kid of ['hmac', 'leaky', 'small', 'k3']) expect(jwks.peek(kid)).toBeUndefined();
    expect(jwks.status()).toMatchObject({ keyCount: 1, skippedKeys: 5, lastError: undefined });
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe('keys_skipped');
    const message = errors[0]?.message ?? '';
    expect(message).toMatch(/^JWKS http:\/\/127\.0\.0\.1:\d+\/jwks\.json: skipped 5 of 6 keys: /);
    expect(message).toContain('#1 (kid "hmac"): symmetric keys');
    expect(message).toContain('#2 (kid "leaky"): the JWK carries the private member "d"');
    expect(message).toContain('#3 (kid "small"): RSA keys must be at least 2048 bits (got 1024)');
    expect(message).toContain('#4 (kid "k3"): "use" must be "sig"');
    expect(message).not.toContain('more');
    expect(message).not.toContain(secret);
    expect(message).not.toContain(k1.x as string);
    expect(message).not.toContain(rsa1024.n as string);
  });

  it('lists at most five skipped keys in a report', async () => {
    server.serve({
      keys: [k1, ...Array.from({ length: 8 }, (_, index) => ({ kty: 'oct', kid: `h${index}` }))],
    });
    await remote().refresh();
    expect(errors[0]?.message).toMatch(/skipped 8 of 9 keys: .*; and 3 more$/);
  });

  it('treats a set with no usable key as a failed fetch and keeps the previous keys', async () => {
    const jwks = remote();
    await jwks.refresh();
    const key = jwks.peek('k1');
    server.serve({ keys: [{ kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' }] });
    await expect(jwks.refresh()).rejects.toThrow(
      /no usable key among 1: skipped 1 of 1 keys: #0 \(kid "hmac"\)/,
    );
    expect(errors.map((error) => error.code)).toEqual(['no_valid_keys']);
    expect(jwks.peek('k1')).toBe(key);
    expect(jwks.status().lastError?.code).toBe('no_valid_keys');
  });

  it('drops every key under a kid that appears twice', async () => {
    server.serve({ keys: [k1, k2, { ...k3, kid: 'k2' }] });
    const jwks = remote();
    await jwks.refresh();
    expect(jwks.peek('k2')).toBeUndefined();
    expect(jwks.peek('k1')?.kid).toBe('k1');
    expect(errors[0]?.message).toContain('#2 (kid "k2"): duplicate kid, every key with it is dropped');
  });

  it('hands out the same object for an unchanged key across fetches, and a new one when it changes', async () => {
    const jwks = remote();
    await jwks.refresh();
    const first = jwks.peek('k1');
    const second = jwks.peek('k2');
    // Same public members in another order, plus members that are not kept: still the same key.
    const reordered = Object.fromEntries(Object.entries(k1).reverse());
    server.serve({
      keys: [
        { ...reordered, x5t: 'abc' },
        { ...k3, kid: 'k2' },
      ],
    });
    await jwks.refresh();
    expect(jwks.peek('k1')).toBe(first);
    expect(jwks.peek('k2')).not.toBe(second);
    expect(jwks.peek('k2')?.algorithms).toEqual(['RS256']);
  });

  it('forgets a key that a new set no longer lists', async () => {
    const jwks = remote();
    await jwks.refresh();
    server.serve({ keys: [k2] });
    await jwks.refresh();
    expect(jwks.peek('k1')).toBeUndefined();
    expect(jwks.resolve('k1')).toBe('unknown_key');
    expect(jwks.status().keyCount).toBe(1);
  });

  it('keeps working when onError throws', async () => {
    server.serve({}, 500);
    const jwks = remote({
      onError: () => {
        throw new Error('reporter broke');
      },
    });
    expect(await jwks.resolve('k1')).toBe('jwks_unavailable');
    server.serve({ keys: [k1] });
    clock.advance(COOLDOWN);
    expect(kidOf(await jwks.resolve('k1'))).toBe('k1');
  });
});

describe('createRemoteJwks: bootstrap keys', () => {
  it('serves bootstrap keys with no fetch, then refreshes in the background from the first lookup', async () => {
    server.serve({ keys: [k2] });
    const jwks = remote({ bootstrap: { keys: [k1] } });
    expect(jwks.peek('k1')?.kid).toBe('k1');
    expect(fetches).toBe(0);
    expect(jwks.status()).toMatchObject({ source: 'bootstrap', keyCount: 1, fetchedAt: undefined });
    const lookup = jwks.resolve('k1');
    expect(lookup).not.toBeInstanceOf(Promise);
    expect(kidOf(lookup as KeyLookup)).toBe('k1');
    expect(server.hits()).toBe(0);
    expect(fetches).toBe(1);
    await idle(jwks);
    // The fetched set replaces the bootstrap set entirely.
    expect(jwks.status()).toMatchObject({ source: 'remote', keyCount: 1 });
    expect(jwks.peek('k1')).toBeUndefined();
    expect(jwks.peek('k2')?.kid).toBe('k2');
  });

  it('keeps serving bootstrap keys while the remote is down, retrying once per cooldown', async () => {
    server.serve({}, 502);
    const jwks = remote({ bootstrap: { keys: [k1] } });
    const key = jwks.peek('k1');
    expect(jwks.resolve('k1')).toBe(key);
    await idle(jwks);
    clock.advance(TTL + SWR + HOUR);
    expect(jwks.resolve('k1')).toBe(key);
    await idle(jwks);
    expect(jwks.resolve('k1')).toBe(key);
    expect(fetches).toBe(2);
    expect(jwks.status()).toMatchObject({ source: 'bootstrap', lastError: { code: 'http_status' } });
  });

  it('keeps the bootstrap object when the fetched set has the same key', async () => {
    const jwks = remote({ bootstrap: { keys: [k1] } });
    const key = jwks.peek('k1');
    await jwks.refresh();
    expect(jwks.peek('k1')).toBe(key);
  });

  it('checks the bootstrap set as strictly as a local JWKS', () => {
    const attempts: [unknown, RegExp][] = [
      [{ keys: [] }, /^bootstrap JWKS has no keys$/],
      [
        { keys: [k1, { ...k1, d: 'x' }] },
        /^bootstrap JWKS key #1 \(kid "k1"\): the JWK carries the private member "d"$/,
      ],
      [{ keys: [k1, k1] }, /duplicate kid/],
      [{}, /must be an object with a "keys" array/],
    ];
    for (const [bootstrap, message] of attempts) {
      let thrown: unknown;
      try {
        remote({ bootstrap: bootstrap as never });
      } catch (error) {
        thrown = error;
      }
      expect(isSessionKitError(thrown) && thrown.code).toBe('key_error');
      expect((thrown as Error).message).toMatch(message);
    }
  });
});

describe('createRemoteJwks: options', () => {
  function configIssues(run: () => unknown): { path: string; message: string }[] {
    try {
      run();
    } catch (error) {
      expect(isSessionKitError(error) && error.code).toBe('invalid_config');
      return [...(error as { issues: { path: string; message: string }[] }).issues];
    }
    throw new Error('expected a ConfigError');
  }

  it.each([
    'http://example.com/jwks.json',
    'http://10.0.0.1/jwks.json',
    'http://127.0.0.2/jwks.json',
    'http://localhost.example.com/jwks.json',
  ])('refuses plain http to a non-loopback host: %s', (url) => {
    const issues = configIssues(() => createRemoteJwks(url));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ path: 'url', message: expect.stringMatching(/url must use https/) });
  });

  it.each([
    ['ftp://example.com/jwks', /url must use https \(got "ftp:"\)/],
    ['file:///etc/jwks.json', /url must use https/],
    ['/jwks.json', /url is not an absolute URL/],
    ['https://user:pass@example.com/jwks', /must not contain credentials/],
  ])('refuses the url %s', (url, message) => {
    expect(configIssues(() => createRemoteJwks(url))[0]?.message).toMatch(message);
  });

  it('refuses a url that is neither a string nor a URL', () => {
    expect(configIssues(() => createRemoteJwks(42 as never))[0]).toMatchObject({ path: 'url' });
  });

  it.each([
    'https://auth.example.com/.well-known/jwks.json',
    new URL('https://auth.example.com/jwks'),
    'http://localhost:8080/jwks',
    'http://127.0.0.1/jwks',
    'http://[::1]:9000/jwks',
  ])('accepts %s', (url) => {
    expect(createRemoteJwks(url).status()).toMatchObject({
      source: 'none',
      keyCount: 0,
      freshness: 'expired',
    });
  });

  it('reports the url without query or fragment', () => {
    expect(createRemoteJwks('https://auth.example.com/jwks?token=abc#x').status().url).toBe(
      'https://auth.example.com/jwks',
    );
  });

  it.each([
    ['ttl', 'soon', `ttl must be a duration between 1s and 7d: ${FORMS} (got "soon")`],
    ['ttl', 0.5, `ttl must be a duration between 1s and 7d: ${FORMS} (got 500ms)`],
    ['ttl', '8d', `ttl must be a duration between 1s and 7d: ${FORMS} (got 8d)`],
    ['ttl', -1, `ttl must be a duration between 1s and 7d: ${FORMS} (got -1)`],
    ['ttl', Number.NaN, `ttl must be a duration between 1s and 7d: ${FORMS} (got NaN)`],
    ['ttl', '10 minutes', `ttl must be a duration between 1s and 7d: ${FORMS} (got "10 minutes")`],
    ['ttl', '-1s', `ttl must be a duration between 1s and 7d: ${FORMS} (got "-1s")`],
    ['ttl', true, `ttl must be a duration between 1s and 7d: ${FORMS} (got true)`],
    [
      'staleWhileRevalidate',
      -1,
      `staleWhileRevalidate must be a duration between 0s and 7d: ${FORMS} (got -1)`,
    ],
    [
      'staleWhileRevalidate',
      '8d',
      `staleWhileRevalidate must be a duration between 0s and 7d: ${FORMS} (got 8d)`,
    ],
    ['cooldown', 0, `cooldown must be a duration between 1s and 1d: ${FORMS} (got 0s)`],
    ['cooldown', '999ms', `cooldown must be a duration between 1s and 1d: ${FORMS} (got 999ms)`],
    ['cooldown', '25h', `cooldown must be a duration between 1s and 1d: ${FORMS} (got 25h)`],
    ['timeout', '50ms', `timeout must be a duration between 100ms and 1m: ${FORMS} (got 50ms)`],
    ['timeout', 0.05, `timeout must be a duration between 100ms and 1m: ${FORMS} (got 50ms)`],
    ['timeout', '2m', `timeout must be a duration between 100ms and 1m: ${FORMS} (got 2m)`],
    ['maxBytes', 64, /maxBytes must be a whole number of bytes between 1024 and 16777216 \(got 64\)/],
    ['maxBytes', Number.POSITIVE_INFINITY, /maxBytes/],
    ['clock', { now: 5 }, /clock must have a now\(\) function/],
    ['fetch', 'fetch', /fetch must be a function/],
    ['onError', true, /onError must be a function/],
    ['headers', 'x-api-key: 1', /headers must be an object of strings/],
    ['headers', { 'x-api-key': 1 }, /headers\.x-api-key must be a string/],
    ['headers', { 'bad header': 'x' }, /invalid header name or value/],
  ])('refuses %s = %s', (field, value, message) => {
    const issues = configIssues(() => createRemoteJwks('https://auth.example.com/jwks', { [field]: value }));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path.startsWith(field)).toBe(true);
    if (typeof message === 'string') expect(issues[0]?.message).toBe(message);
    else expect(issues[0]?.message).toMatch(message);
  });

  it('puts the refusal in the thrown message too', () => {
    expect(() => createRemoteJwks('https://auth.example.com/jwks', { ttl: 'soon' })).toThrow(
      `Invalid remote JWKS options: ttl must be a duration between 1s and 7d: ${FORMS} (got "soon")`,
    );
  });

  it('reads a number as seconds: ttl 600 is ten minutes', async () => {
    const jwks = remote({ ttl: 600 });
    await jwks.refresh();
    clock.advance(10 * MINUTE - 1);
    expect(jwks.status().freshness).toBe('fresh');
    clock.advance(1);
    expect(jwks.status().freshness).toBe('stale');
  });

  it.each([
    ['ttl', '90s'],
    ['ttl', 1.5],
    ['ttl', ' 12h '],
    ['ttl', '0.5d'],
    ['staleWhileRevalidate', '0s'],
    ['cooldown', '1m'],
    ['timeout', '250ms'],
    ['timeout', 0.1],
  ])('accepts %s = %s', (field, value) => {
    expect(() => createRemoteJwks('https://auth.example.com/jwks', { [field]: value })).not.toThrow();
  });

  it('accepts the bounds and staleWhileRevalidate 0', () => {
    expect(() =>
      createRemoteJwks('https://auth.example.com/jwks', {
        ttl: '1s',
        staleWhileRevalidate: 0,
        cooldown: 1,
        timeout: '100ms',
        maxBytes: 1024,
      }),
    ).not.toThrow();
    expect(() =>
      createRemoteJwks('https://auth.example.com/jwks', {
        ttl: '7d',
        staleWhileRevalidate: '168h',
        cooldown: '1d',
        timeout: 60,
        maxBytes: 16 * 1024 * 1024,
      }),
    ).not.toThrow();
  });

  it('reports every bad field at once, naming each', () => {
    const issues = configIssues(() =>
      createRemoteJwks('http://example.com/jwks', { ttl: '0s', cooldown: -5, maxBytes: 1 }),
    );
    expect(issues.map((issue) => issue.path)).toEqual(['url', 'ttl', 'cooldown', 'maxBytes']);
  });

  it('refuses options that are not an object', () => {
    expect(configIssues(() => createRemoteJwks('https://auth.example.com/jwks', null as never))).toEqual([
      { path: '', message: 'must be an object' },
    ]);
  });

  it('validates options before the bootstrap set', () => {
    expect(() => createRemoteJwks('http://example.com/jwks', { bootstrap: { keys: [] } })).toThrow(/https/);
  });

  it('with staleWhileRevalidate 0, awaits a fetch as soon as ttl has passed', async () => {
    const jwks = remote({ staleWhileRevalidate: 0 });
    await jwks.refresh();
    clock.advance(TTL);
    expect(jwks.peek('k1')).toBeUndefined();
    expect(kidOf(await jwks.resolve('k1'))).toBe('k1');
    expect(fetches).toBe(2);
  });
});
