/**
 * The verifier against every JWT attack class DESIGN §7 names, each one performed for real. Tokens
 * are forged by hand — base64url header and payload, signed with `node:crypto` over exactly the text
 * in the token — so the only defect in a token is the one under test; in every block a control shows
 * the same forging path yields a token the verifier accepts. Each refusal is checked for its stable
 * code, for the verifier not throwing, and for a message that quotes no part of the token. Counting
 * key sources, a counting `fetch` and local HTTP servers prove that hostile headers (`kid`, `jku`,
 * `x5u`, `jwk`, `x5c`) cause no lookup or request beyond the configured key source. The signature
 * forgeries also run on the Web Crypto backend, which must refuse exactly what the Node one refuses.
 */

import {
  constants,
  createHmac,
  createPublicKey,
  KeyObject,
  type JsonWebKey as NodeJsonWebKey,
  sign as nodeSign,
} from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest';
import { ConfigError, KeyError } from '../errors.js';
import {
  generateSigningKey,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type SigningKey,
} from '../keys/signing-key.js';
import { createFakeClock } from '../runtime/clock.js';
import { createTestKit, issueOk, TEST_AUDIENCE, TEST_ISSUER } from '../test-support/fixtures.js';
import { createLocalJwks } from './local-jwks.js';
import { createMemoryDenylist } from './revocations.js';
import { webSignatureBackend } from './signature.js';
import { defaultTokenDigest } from './token-cache.js';
import type { AccessTokenClaims, KeySource, VerifyError, VerifyErrorCode, VerifyResult } from './types.js';
import {
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  buildVerifier,
  createAccessTokenVerifier,
  MAX_TOKEN_LENGTH,
} from './verifier.js';

const ISSUER = 'https://auth.example.com';
const AUDIENCE = 'orders-api';
const NOW_MS = Date.UTC(2026, 0, 1);
/** The fake clock's time in whole seconds, as tokens carry it. */
const NOW = NOW_MS / 1000;

const ALGS = ['EdDSA', 'ES256', 'RS256'] as const;
type Alg = (typeof ALGS)[number];
/** How a forged token is signed: a JOSE algorithm, or ES256 with a DER (not JOSE) signature. */
type Scheme = SigningAlgorithm | 'ES256-DER';
type Json = Record<string, unknown>;

/** P-256 group order. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** Ed25519 group order. */
const ED25519_L = 2n ** 252n + 27742317777372353535851937790883648493n;

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

interface KeyCase {
  /** The authority's key: its public JWK is what every verifier here trusts. */
  readonly ours: SigningKey;
  /** A key the attacker holds, under its own kid. */
  readonly attacker: SigningKey;
  /** A different key the attacker holds, published nowhere, under our kid. */
  readonly impostor: SigningKey;
}

const keyCases = new Map<Alg, KeyCase>();

function keysOf(alg: Alg): KeyCase {
  const found = keyCases.get(alg);
  if (found === undefined) throw new Error(`keys for ${alg} are not generated yet`);
  return found;
}

const ourKid = (alg: Alg): string => `ours-${alg}`;
const attackerKid = (alg: Alg): string => `attacker-${alg}`;

// ---------------------------------------------------------------------------------------------
// Forging
// ---------------------------------------------------------------------------------------------

const b64u = (data: string | Uint8Array): string =>
  (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString('base64url');

const keyObjects = new WeakMap<SigningKey, KeyObject>();

function keyObjectOf(key: SigningKey): KeyObject {
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    keyObject = KeyObject.from(key.privateKey);
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/** The public half of `key` as a Node `KeyObject`, for exporting it as PEM, DER or raw bytes. */
function publicKeyObject(key: SigningKey): KeyObject {
  return createPublicKey({ key: key.publicJwk as unknown as NodeJsonWebKey, format: 'jwk' });
}

/** Signs `input` (UTF-8) with `key` under `scheme`, producing the raw signature bytes. */
function rawSign(key: SigningKey, scheme: Scheme, input: string): Uint8Array {
  const keyObject = keyObjectOf(key);
  const data = Buffer.from(input, 'utf8');
  switch (scheme) {
    case 'EdDSA':
      return nodeSign(null, data, keyObject);
    case 'ES256':
      return nodeSign('sha256', data, { key: keyObject, dsaEncoding: 'ieee-p1363' });
    case 'ES256-DER':
      return nodeSign('sha256', data, { key: keyObject, dsaEncoding: 'der' });
    case 'RS256':
      return nodeSign('sha256', data, keyObject);
    case 'PS256':
      return nodeSign('sha256', data, {
        key: keyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
  }
}

/** Valid claims for a token issued now by our issuer for our audience. */
function claims(overrides: Json = {}): Json {
  return {
    iss: ISSUER,
    sub: 'user-1',
    aud: AUDIENCE,
    exp: NOW + 300,
    iat: NOW,
    jti: 'jti-1',
    sid: 'sid-1',
    client_id: 'web',
    auth_time: NOW,
    scope: 'orders:read',
    ...overrides,
  };
}

/** The header the authority writes for `key`, with `overrides` on top (`undefined` removes a member). */
function header(key: SigningKey, overrides: Json = {}): Json {
  return { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...overrides };
}

interface Forgery {
  /** Header object; or `headerJson` (raw JSON text); or `headerSegment` (used verbatim). */
  readonly header?: Json;
  readonly headerJson?: string;
  readonly headerSegment?: string;
  /** Payload object; or raw JSON text; or raw bytes; or a verbatim segment. */
  readonly payload?: Json;
  readonly payloadJson?: string;
  readonly payloadBytes?: Uint8Array;
  readonly payloadSegment?: string;
  /** Who signs (default: the key the token claims) and how (default: that key's algorithm). */
  readonly signer?: SigningKey;
  readonly scheme?: Scheme;
}

/** The signing input `header.payload` of a forgery, segments exactly as they will appear. */
function signingInput(key: SigningKey, forgery: Forgery = {}): string {
  const headerSegment =
    forgery.headerSegment ?? b64u(forgery.headerJson ?? JSON.stringify(forgery.header ?? header(key)));
  const payloadSegment =
    forgery.payloadSegment ??
    b64u(forgery.payloadBytes ?? forgery.payloadJson ?? JSON.stringify(forgery.payload ?? claims()));
  return `${headerSegment}.${payloadSegment}`;
}

/** A compact JWS whose signature is genuinely computed over its own first two segments. */
function forge(key: SigningKey, forgery: Forgery = {}): string {
  const input = signingInput(key, forgery);
  const signer = forgery.signer ?? key;
  return `${input}.${b64u(rawSign(signer, forgery.scheme ?? signer.alg, input))}`;
}

function segmentsOf(token: string): [string, string, string] {
  const [h, p, s, ...rest] = token.split('.');
  if (h === undefined || p === undefined || s === undefined || rest.length > 0) {
    throw new Error('not a three-segment token');
  }
  return [h, p, s];
}

/**
 * A filler string for which `build(fill)` is a segment with a partial last group (length % 4 ≠ 0,
 * so padding and unused bits exist) that contains `-` or `_` (so the standard alphabet differs).
 */
function fillFor(build: (fill: string) => string): string {
  for (let n = 0; n < 64; n++) {
    const fill = '~?>'.repeat(n);
    const segment = build(fill);
    if (segment.length % 4 !== 0 && /[-_]/.test(segment)) return fill;
  }
  throw new Error('no filler gives a segment with both properties');
}

/** A token of exactly `length` characters, valid in every other respect (a `pad` header member and a `filler` claim adjust it). */
function tokenOfLength(key: SigningKey, length: number): string {
  const signatureLength = b64u(rawSign(key, key.alg, 'probe')).length;
  for (let pad = 0; pad < 8; pad++) {
    const headerSegment = b64u(JSON.stringify(header(key, { pad: 'p'.repeat(pad) })));
    const room = length - headerSegment.length - signatureLength - 2;
    const base = JSON.stringify(claims({ filler: '' })).length;
    const estimate = Math.max(0, Math.floor((room * 3) / 4) - base - 8);
    for (let n = estimate; n < estimate + 16; n++) {
      const payloadSegment = b64u(JSON.stringify(claims({ filler: 'f'.repeat(n) })));
      if (payloadSegment.length === room) return forge(key, { headerSegment, payloadSegment });
    }
  }
  throw new Error(`could not build a token of exactly ${length} characters`);
}

// ---------------------------------------------------------------------------------------------
// Verifiers and outcomes
// ---------------------------------------------------------------------------------------------

const jwksOf = (...keys: SigningKey[]): { keys: unknown[] } => ({ keys: keys.map((key) => key.publicJwk) });

type Backend = 'node' | 'webcrypto';

function verifierFor(
  jwks: AccessTokenVerifierOptions['jwks'],
  options: Partial<AccessTokenVerifierOptions> = {},
  backend: Backend = 'node',
): AccessTokenVerifier {
  const all: AccessTokenVerifierOptions = {
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks,
    clock: createFakeClock(NOW_MS),
    ...options,
  };
  return backend === 'node'
    ? createAccessTokenVerifier(all)
    : buildVerifier(all, { backend: webSignatureBackend(), digest: defaultTokenDigest() });
}

/** A key source that records every `peek` and `resolve` before delegating. */
function countingSource(inner: KeySource): { source: KeySource; resolved: unknown[]; peeked: unknown[] } {
  const resolved: unknown[] = [];
  const peeked: unknown[] = [];
  return {
    resolved,
    peeked,
    source: {
      peek(kid) {
        peeked.push(kid);
        return inner.peek(kid);
      },
      resolve(kid) {
        resolved.push(kid);
        return inner.resolve(kid);
      },
    },
  };
}

/** A `fetch` that answers every request with `body` as JSON and records the URLs it was asked for. */
function countingFetch(body: unknown): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fake = async (input: string | URL | Request): Promise<Response> => {
    urls.push(input instanceof Request ? input.url : String(input));
    return new Response(JSON.stringify(body), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
  return { fetch: fake as typeof fetch, urls };
}

interface Verifiable {
  verify(token: unknown): Promise<VerifyResult>;
}

/** The verifier's answer; a throw (sync or async) is turned into a test failure that says so. */
async function outcome(verifier: Verifiable, token: unknown): Promise<VerifyResult> {
  try {
    return await verifier.verify(token);
  } catch (error) {
    throw new Error(`verify() threw instead of refusing: ${String(error)}`);
  }
}

/** The message must not quote the token or any of its (non-trivial) segments. */
function expectNoLeak(message: string, token: unknown): void {
  expect(typeof message).toBe('string');
  if (typeof token !== 'string') return;
  if (token.length > 0) expect(message).not.toContain(token);
  for (const segment of token.split('.')) {
    if (segment.length >= 6) expect(message).not.toContain(segment);
  }
}

async function expectRefused(
  verifier: Verifiable,
  token: unknown,
  code: VerifyErrorCode | readonly VerifyErrorCode[],
): Promise<VerifyError> {
  const codes = typeof code === 'string' ? [code] : code;
  const result = await outcome(verifier, token);
  if (result.ok) {
    expect.fail(`ACCEPTED a token that must be refused (expected ${codes.join(' or ')})`);
  }
  expect(codes).toContain(result.error.code);
  expectNoLeak(result.error.message, token);
  return result.error;
}

async function expectAccepted(verifier: Verifiable, token: unknown): Promise<AccessTokenClaims> {
  const result = await outcome(verifier, token);
  if (!result.ok) expect.fail(`refused a valid token: ${result.error.code} (${result.error.message})`);
  return result.claims;
}

const settle = (ms = 25): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Attacker and authority HTTP servers (for jku / x5u and the remote JWKS)
// ---------------------------------------------------------------------------------------------

interface CountingServer {
  readonly server: Server;
  readonly url: string;
  readonly requests: string[];
}

async function startServer(body: () => unknown): Promise<CountingServer> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
    response.end(JSON.stringify(body()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, requests };
}

async function stopServer(counting: CountingServer | undefined): Promise<void> {
  if (counting === undefined) return;
  counting.server.closeAllConnections();
  await new Promise<void>((resolve) => counting.server.close(() => resolve()));
}

/** Serves the attacker's keys, including copies of them relabelled with our kids. */
let attackerServer: CountingServer | undefined;
/** Serves our real JWKS, as the authority would. */
let authorityServer: CountingServer | undefined;

const attackerUrl = (): string => (attackerServer as CountingServer).url;

beforeAll(async () => {
  await Promise.all(
    ALGS.map(async (alg) => {
      const [ours, attacker, impostor] = await Promise.all([
        generateSigningKey({ alg, kid: ourKid(alg) }),
        generateSigningKey({ alg, kid: attackerKid(alg) }),
        generateSigningKey({ alg, kid: ourKid(alg) }),
      ]);
      keyCases.set(alg, { ours, attacker, impostor });
    }),
  );
  attackerServer = await startServer(() => ({
    keys: ALGS.flatMap((alg) => [
      keysOf(alg).attacker.publicJwk,
      { ...keysOf(alg).impostor.publicJwk, kid: ourKid(alg) },
    ]),
  }));
  authorityServer = await startServer(() => ({ keys: ALGS.map((alg) => keysOf(alg).ours.publicJwk) }));
});

afterAll(async () => {
  await Promise.all([stopServer(attackerServer), stopServer(authorityServer)]);
});

// ---------------------------------------------------------------------------------------------
// Attacks that need no key (configuration and token shape)
// ---------------------------------------------------------------------------------------------

describe('configuration cannot open the door to symmetric or unsigned tokens', () => {
  it.each([[['HS256']], [['RS256', 'HS256']], [['none']], [['HS384', 'HS512']], [[]]])(
    'algorithms %j is a ConfigError at creation',
    (algorithms) => {
      const jwks = jwksOf(keysOf('EdDSA').ours);
      expect(() =>
        createAccessTokenVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          jwks,
          algorithms: algorithms as SigningAlgorithm[],
        }),
      ).toThrow(ConfigError);
    },
  );

  it('a JWKS holding a symmetric (kty "oct") key is refused at creation', () => {
    const oct = { kty: 'oct', k: b64u('a shared secret of thirty-two b!'), kid: 'hmac', alg: 'HS256' };
    expect(() =>
      createAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [oct] } }),
    ).toThrow(KeyError);
  });

  it.each(ALGS)('our %s public key relabelled "alg": "HS256" is refused at creation', (alg) => {
    const relabelled = { ...keysOf(alg).ours.publicJwk, alg: 'HS256' };
    expect(() =>
      createAccessTokenVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [relabelled] } }),
    ).toThrow(KeyError);
  });
});

describe('values that are not tokens at all', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object', {}],
    ['a boolean', true],
    ['a symbol', Symbol('token')],
    ['a bigint', 10n],
    ['a function', () => 'token'],
  ])('%s → malformed', async (_, value) => {
    await expectRefused(verifierFor(jwksOf(keysOf('EdDSA').ours)), value, 'malformed');
  });

  it('a valid token wrapped in an array, a String object or a Buffer → malformed', async () => {
    const key = keysOf('EdDSA').ours;
    const token = forge(key);
    const verifier = verifierFor(jwksOf(key));
    await expectAccepted(verifier, token);
    await expectRefused(verifier, [token], 'malformed');
    await expectRefused(verifier, new String(token), 'malformed');
    await expectRefused(verifier, Buffer.from(token), 'malformed');
  });

  it.each(['', '.', '..', '...', 'a.b.c'])('%j → malformed', async (token) => {
    await expectRefused(verifierFor(jwksOf(keysOf('EdDSA').ours)), token, 'malformed');
  });

  it.each(['e30.e30.', 'e30.e30.e30'])(
    '%j (an empty header object: no alg) → unsupported_algorithm',
    async (token) => {
      await expectRefused(verifierFor(jwksOf(keysOf('EdDSA').ours)), token, 'unsupported_algorithm');
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Attacks per key type
// ---------------------------------------------------------------------------------------------

describe.each(ALGS)('with our %s key', (alg) => {
  const ours = (): SigningKey => keysOf(alg).ours;
  const attacker = (): SigningKey => keysOf(alg).attacker;
  const impostor = (): SigningKey => keysOf(alg).impostor;
  const local = (options: Partial<AccessTokenVerifierOptions> = {}): AccessTokenVerifier =>
    verifierFor(jwksOf(ours()), options);

  describe('control: the forging path', () => {
    it('produces a token the verifier accepts, with its claims', async () => {
      const verified = await expectAccepted(local(), forge(ours()));
      expect(verified).toMatchObject({ iss: ISSUER, sub: 'user-1', aud: AUDIENCE, sid: 'sid-1' });
    });

    it('agrees with the authority: a token the kit signing path makes is accepted too', async () => {
      const kid = keysOf(alg).ours.kid;
      const token = forge(ours());
      expect(JSON.parse(Buffer.from(segmentsOf(token)[0], 'base64url').toString())).toEqual({
        alg,
        typ: 'at+jwt',
        kid,
      });
      await expectAccepted(local({ algorithms: [alg] }), token);
    });
  });

  describe('alg "none"', () => {
    const signatures: [string, (input: string) => string][] = [
      ['an empty signature', () => ''],
      ['a garbage signature', () => 'Z2FyYmFnZQ'],
      ['our real signature over the same input', (input) => b64u(rawSign(keysOf(alg).ours, alg, input))],
    ];
    const cases = ['none', 'None', 'NONE', 'nOnE'].flatMap((casing) =>
      signatures.map(([label, sign]) => [casing, label, sign] as const),
    );

    it.each(cases)('alg %j with %s → unsupported_algorithm, no key lookup', async (casing, _, sign) => {
      const input = signingInput(ours(), { header: header(ours(), { alg: casing }) });
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      await expectRefused(verifierFor(counted.source), `${input}.${sign(input)}`, 'unsupported_algorithm');
      expect(counted.resolved).toEqual([]);
    });

    it('an unsigned two-segment token (no trailing dot) → malformed', async () => {
      const input = signingInput(ours(), { header: header(ours(), { alg: 'none' }) });
      await expectRefused(local(), input, 'malformed');
    });
  });

  describe('HS256 with our public key as the HMAC secret', () => {
    function secrets(key: SigningKey): Record<string, Uint8Array> {
      const publicKey = publicKeyObject(key);
      const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
      const jwk = key.publicJwk as Record<string, string>;
      const raw =
        jwk.kty === 'RSA'
          ? Buffer.from(jwk.n as string, 'base64url')
          : Buffer.concat([
              ...(jwk.kty === 'EC' ? [Buffer.from([4])] : []),
              Buffer.from(jwk.x as string, 'base64url'),
              ...(jwk.y === undefined ? [] : [Buffer.from(jwk.y, 'base64url')]),
            ]);
      return {
        'SPKI PEM text': Buffer.from(pem),
        'SPKI PEM text without its trailing newline': Buffer.from(pem.trimEnd()),
        'SPKI DER bytes': publicKey.export({ type: 'spki', format: 'der' }),
        'JWK JSON bytes': Buffer.from(JSON.stringify(key.publicJwk)),
        'raw public key bytes': raw,
      };
    }
    const secretNames = [
      'SPKI PEM text',
      'SPKI PEM text without its trailing newline',
      'SPKI DER bytes',
      'JWK JSON bytes',
      'raw public key bytes',
    ];
    const hmacs = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;
    const cases = (Object.keys(hmacs) as (keyof typeof hmacs)[]).flatMap((hs) =>
      secretNames.map((name) => [hs, name] as const),
    );

    function hmacToken(hs: keyof typeof hmacs, name: string): string {
      const secret = secrets(ours())[name];
      if (secret === undefined) throw new Error(`no secret ${name}`);
      const input = signingInput(ours(), { header: header(ours(), { alg: hs }) });
      return `${input}.${b64u(createHmac(hmacs[hs], secret).update(input).digest())}`;
    }

    it.each(cases)('%s keyed with the %s → unsupported_algorithm, no key lookup', async (hs, name) => {
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      await expectRefused(verifierFor(counted.source), hmacToken(hs, name), 'unsupported_algorithm');
      expect(counted.resolved).toEqual([]);
    });

    it('is refused the same way when `algorithms` names our algorithm explicitly', async () => {
      const verifier = local({ algorithms: [alg] });
      for (const [hs, name] of cases)
        await expectRefused(verifier, hmacToken(hs, name), 'unsupported_algorithm');
      await expectAccepted(verifier, forge(ours()));
    });
  });

  describe('header alg that does not match the key', () => {
    const others = SIGNING_ALGORITHMS.filter((other) => other !== alg);

    it.each(others)(
      'header alg %s over our key (signed with the key) → unsupported_algorithm',
      async (other) => {
        await expectRefused(
          local(),
          forge(ours(), { header: header(ours(), { alg: other }) }),
          'unsupported_algorithm',
        );
      },
    );

    const spellings: [string, unknown][] = [
      ['lower case', alg.toLowerCase()],
      ['upper case', alg.toUpperCase()],
      ['a trailing space', `${alg} `],
      ['a leading space', ` ${alg}`],
      ['a NUL suffix', `${alg}\u0000`],
      ['an array', [alg]],
      ['null', null],
      ['a number', 256],
      ['missing', undefined],
    ];
    it.each(spellings.filter(([, spelling]) => spelling !== alg))(
      'alg written with %s → unsupported_algorithm',
      async (_, spelling) => {
        await expectRefused(
          local(),
          forge(ours(), { header: header(ours(), { alg: spelling }) }),
          'unsupported_algorithm',
        );
      },
    );

    it('an algorithm left out of `algorithms` → unsupported_algorithm, even with a valid signature', async () => {
      const token = forge(ours());
      await expectAccepted(local(), token);
      await expectRefused(
        local({ algorithms: SIGNING_ALGORITHMS.filter((other) => other !== alg) }),
        token,
        'unsupported_algorithm',
      );
    });
  });

  describe('kid injection', () => {
    const unknownKids: [string, string][] = [
      ['a path traversal', '../../../../etc/passwd'],
      ['an SQL injection', "' OR 1=1;--"],
      ['a wildcard', '*'],
      ['a percent sign', '%'],
      ['a URL', 'http://127.0.0.1:1/jwks.json'],
      ['a JNDI lookup', `$${'{'}jndi:ldap://127.0.0.1:1/a}`],
      ['a header injection', 'k\r\nX-Injected: 1'],
      ['a NUL byte', '\u0000'],
      ['our kid plus a NUL byte', `ours-${alg}\u0000`],
      ['our kid plus a space', `ours-${alg} `],
      ['our kid in upper case', `OURS-${alg}`],
      ['__proto__', '__proto__'],
      ['constructor', 'constructor'],
      ['toString', 'toString'],
      ['hasOwnProperty', 'hasOwnProperty'],
      ['256 characters (the longest accepted)', 'k'.repeat(256)],
    ];

    it.each(unknownKids)('%s → unknown_key, looked up verbatim once', async (_, kid) => {
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      await expectRefused(
        verifierFor(counted.source),
        forge(ours(), { header: header(ours(), { kid }) }),
        'unknown_key',
      );
      expect(counted.resolved).toEqual([kid]);
    });

    const malformedKids: [string, unknown][] = [
      ['an empty string', ''],
      ['257 characters', 'k'.repeat(257)],
      ['6 000 characters (the token still fits the size cap)', 'k'.repeat(6000)],
      ['10 KB (the token is over the size cap)', 'k'.repeat(10 * 1024)],
      ['a number', 42],
      ['zero', 0],
      ['an object', { kid: `ours-${alg}` }],
      ['an empty array', []],
      ['an array holding our kid', [`ours-${alg}`]],
      ['null', null],
      ['a boolean', true],
      ['missing', undefined],
    ];

    it.each(malformedKids)('%s → malformed, and the key source is never asked', async (_, kid) => {
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      await expectRefused(
        verifierFor(counted.source),
        forge(ours(), { header: header(ours(), { kid }) }),
        'malformed',
      );
      expect(counted.resolved).toEqual([]);
      expect(counted.peeked).toEqual([]);
    });

    describe('against a remote JWKS (counting fetch, fake clock)', () => {
      const jwksUrl = 'https://auth.example.com/.well-known/jwks.json';
      const injected = unknownKids.map(([, kid]) => kid);

      function remote(): {
        verifier: AccessTokenVerifier;
        urls: string[];
        clock: ReturnType<typeof createFakeClock>;
      } {
        const clock = createFakeClock(NOW_MS);
        const { fetch, urls } = countingFetch(jwksOf(ours()));
        const verifier = verifierFor(jwksUrl, { clock, jwksOptions: { fetch, cooldown: '30s' } });
        return { verifier, urls, clock };
      }

      it('100 tokens with injected kids cost one fetch per cooldown, always of the configured URL', async () => {
        const { verifier, urls, clock } = remote();
        for (let i = 0; i < 100; i++) {
          const kid = `${injected[i % injected.length]}${i}`.slice(0, 256);
          await expectRefused(verifier, forge(ours(), { header: header(ours(), { kid }) }), 'unknown_key');
        }
        expect(urls).toEqual([jwksUrl]);
        await expectAccepted(verifier, forge(ours()));
        expect(urls).toHaveLength(1);

        // Still inside the 30 s cooldown: no fetch. At 30 s the window reopens for exactly one.
        clock.advance(29_000);
        await expectRefused(
          verifier,
          forge(ours(), { header: header(ours(), { kid: '*-29s' }) }),
          'unknown_key',
        );
        expect(urls).toHaveLength(1);
        clock.advance(1_000);
        for (let i = 0; i < 100; i++) {
          const kid = `${injected[i % injected.length]}-again-${i}`.slice(0, 256);
          await expectRefused(verifier, forge(ours(), { header: header(ours(), { kid }) }), 'unknown_key');
        }
        expect(urls).toEqual([jwksUrl, jwksUrl]);
      });

      it('100 concurrent tokens with injected kids share one fetch', async () => {
        const { verifier, urls } = remote();
        const tokens = Array.from({ length: 100 }, (_, i) =>
          forge(ours(), {
            header: header(ours(), { kid: `${injected[i % injected.length]}#${i}`.slice(0, 256) }),
          }),
        );
        const results = await Promise.all(tokens.map((token) => outcome(verifier, token)));
        for (const result of results)
          expect(result).toMatchObject({ ok: false, error: { code: 'unknown_key' } });
        expect(urls).toEqual([jwksUrl]);
      });

      it('oversized and non-string kids never reach the remote source: zero fetches', async () => {
        const { verifier, urls } = remote();
        for (const [, kid] of malformedKids) {
          await expectRefused(verifier, forge(ours(), { header: header(ours(), { kid }) }), 'malformed');
        }
        await settle();
        expect(urls).toEqual([]);
      });
    });
  });

  describe('headers that point elsewhere for a key (jku, x5u, jwk, x5c)', () => {
    function spkiBase64(key: SigningKey): string {
      return publicKeyObject(key).export({ type: 'spki', format: 'der' }).toString('base64');
    }
    const pointers: [string, (key: SigningKey) => Json][] = [
      ['jku', () => ({ jku: `${attackerUrl()}/jwks.json` })],
      ['x5u', () => ({ x5u: `${attackerUrl()}/cert.pem` })],
      ['jwk', (key) => ({ jwk: key.publicJwk })],
      ['x5c', (key) => ({ x5c: [spkiBase64(key)] })],
      [
        'all of jku, x5u, jwk, x5c and x5t#S256',
        (key) => ({
          jku: `${attackerUrl()}/jwks.json`,
          x5u: `${attackerUrl()}/cert.pem`,
          jwk: key.publicJwk,
          x5c: [spkiBase64(key)],
          'x5t#S256': b64u(Buffer.alloc(32, 1)),
        }),
      ],
    ];
    const cases = pointers.flatMap(([label, members]) => [
      [label, members, 'the attacker kid', 'unknown_key'] as const,
      [label, members, 'our kid', 'bad_signature'] as const,
    ]);

    function attack(members: (key: SigningKey) => Json, kidChoice: string): string {
      const signer = kidChoice === 'our kid' ? impostor() : attacker();
      const kid = kidChoice === 'our kid' ? ours().kid : attacker().kid;
      return forge(signer, { header: header(signer, { ...members(signer), kid }) });
    }

    let fetchSpy: MockInstance<typeof fetch>;
    beforeEach(() => {
      fetchSpy = vi.spyOn(globalThis, 'fetch');
    });
    afterEach(() => {
      fetchSpy.mockRestore();
    });

    it('control: the attacker server is up and would hand out the attacker key under our kid', async () => {
      const response = await fetch(`${attackerUrl()}/jwks.json`);
      const body = (await response.json()) as { keys: { kid: string }[] };
      expect(body.keys.map((key) => key.kid)).toContain(ours().kid);
      (attackerServer as CountingServer).requests.length = 0;
    });

    it.each(cases)(
      '%s, signed by the attacker under %s → %s; no request anywhere',
      async (_, members, kidChoice, code) => {
        const before = (attackerServer as CountingServer).requests.length;
        await expectRefused(local(), attack(members, kidChoice), code);
        await settle();
        expect((attackerServer as CountingServer).requests.length).toBe(before);
        expect(fetchSpy).not.toHaveBeenCalled();
      },
    );

    it('with a remote JWKS: only the configured URL is fetched, the attacker server gets nothing', async () => {
      const authority = authorityServer as CountingServer;
      const attackerRequests = (attackerServer as CountingServer).requests;
      const attackerBefore = attackerRequests.length;
      const authorityBefore = authority.requests.length;
      const verifier = verifierFor(`${authority.url}/jwks.json`, { jwksOptions: { cooldown: '1m' } });
      for (const [, members, kidChoice, code] of cases) {
        await expectRefused(verifier, attack(members, kidChoice), code);
      }
      await expectAccepted(verifier, forge(ours()));
      await settle();
      expect(attackerRequests.length).toBe(attackerBefore);
      expect(authority.requests.slice(authorityBefore)).toEqual(['GET /jwks.json']);
    });
  });

  describe('crit and b64', () => {
    it.each([
      ['crit ["exp"]', { crit: ['exp'] }],
      ['crit ["b64"] with b64 false', { crit: ['b64'], b64: false }],
      ['crit ["b64"] with b64 true', { crit: ['b64'], b64: true }],
      ['an empty crit', { crit: [] }],
      ['crit naming an unknown extension', { crit: ['urn:example:ext'], 'urn:example:ext': 1 }],
      ['crit as a string', { crit: 'exp' }],
      ['crit null', { crit: null }],
      ['b64 false without crit', { b64: false }],
    ])('%s → malformed', async (_, members) => {
      await expectRefused(local(), forge(ours(), { header: header(ours(), members) }), 'malformed');
    });

    it('an RFC 7797 unencoded payload signed as such → malformed', async () => {
      const headerSegment = b64u(JSON.stringify(header(ours(), { crit: ['b64'], b64: false })));
      const raw = JSON.stringify(claims());
      const input = `${headerSegment}.${raw}`;
      await expectRefused(local(), `${input}.${b64u(rawSign(ours(), alg, input))}`, 'malformed');
    });
  });

  describe('typ', () => {
    it.each(['at+jwt', 'at+JWT', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT'])(
      'typ %j is accepted',
      async (typ) => {
        await expectAccepted(local(), forge(ours(), { header: header(ours(), { typ }) }));
      },
    );

    it.each([
      ['missing', undefined],
      ['"JWT"', 'JWT'],
      ['"jwt"', 'jwt'],
      ['"application/jwt"', 'application/jwt'],
      ['"JOSE"', 'JOSE'],
      ['"JOSE+JSON"', 'JOSE+JSON'],
      ['empty', ''],
      ['with a trailing space', 'at+jwt '],
      ['with a leading space', ' at+jwt'],
      ['with a parameter', 'at+jwt; charset=utf-8'],
      ['with a NUL suffix', 'at+jwt\u0000'],
      ['"application/at+jwt+json"', 'application/at+jwt+json'],
      ['"application/application/at+jwt"', 'application/application/at+jwt'],
      ['percent-encoded', 'at%2Bjwt'],
      ['"secevent+jwt" (another JWT profile)', 'secevent+jwt'],
      ['a number', 42],
      ['null', null],
      ['an array', ['at+jwt']],
      ['an object', { type: 'at+jwt' }],
    ])('typ %s → invalid_type', async (_, typ) => {
      await expectRefused(local(), forge(ours(), { header: header(ours(), { typ }) }), 'invalid_type');
    });
  });

  describe('size cap', () => {
    it(`control: a valid token of exactly ${MAX_TOKEN_LENGTH} characters is accepted`, async () => {
      const token = tokenOfLength(ours(), MAX_TOKEN_LENGTH);
      expect(token).toHaveLength(MAX_TOKEN_LENGTH);
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      await expectAccepted(verifierFor(counted.source), token);
      expect(counted.resolved).toEqual([ours().kid]);
    });

    it(`a valid token of ${MAX_TOKEN_LENGTH + 1} characters is malformed before anything is decoded`, async () => {
      const token = tokenOfLength(ours(), MAX_TOKEN_LENGTH + 1);
      expect(token).toHaveLength(MAX_TOKEN_LENGTH + 1);
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      const verifier = verifierFor(counted.source);
      const parse = vi.spyOn(JSON, 'parse');
      let result: VerifyResult;
      try {
        result = await outcome(verifier, token);
      } finally {
        parse.mockRestore();
      }
      expect(result).toMatchObject({ ok: false, error: { code: 'malformed' } });
      if (!result.ok) expectNoLeak(result.error.message, token);
      expect(parse).not.toHaveBeenCalled();
      expect(counted.resolved).toEqual([]);
      expect(counted.peeked).toEqual([]);
    });

    it('a 1 MB token with a valid header is malformed, with no key lookup', async () => {
      const counted = countingSource(createLocalJwks(jwksOf(ours())));
      const [h, p, s] = segmentsOf(forge(ours()));
      const token = `${h}.${p}${'A'.repeat(1024 * 1024)}.${s}`;
      await expectRefused(verifierFor(counted.source), token, 'malformed');
      expect(counted.resolved).toEqual([]);
    });
  });

  describe('claim type confusion (signed with our key)', () => {
    it.each<[string, Json, VerifyErrorCode]>([
      ['exp as a numeric string', { exp: '9999999999' }, 'malformed'],
      ['exp = 1e300', { exp: 1e300 }, 'malformed'],
      ['exp = Number.MAX_SAFE_INTEGER', { exp: Number.MAX_SAFE_INTEGER }, 'malformed'],
      ['exp = Number.MAX_SAFE_INTEGER + 2', { exp: Number.MAX_SAFE_INTEGER + 2 }, 'malformed'],
      ['exp just past the NumericDate ceiling (8.64e12 + 1)', { exp: 8.64e12 + 1 }, 'malformed'],
      ['exp at the NumericDate ceiling (8.64e12)', { exp: 8.64e12 }, 'lifetime_exceeded'],
      ['negative exp', { exp: -1 }, 'malformed'],
      ['exp = 0', { exp: 0 }, 'expired'],
      ['exp as a boolean', { exp: true }, 'malformed'],
      ['exp null', { exp: null }, 'malformed'],
      ['exp in an array', { exp: [NOW + 300] }, 'malformed'],
      ['exp as an object', { exp: { $gt: 0 } }, 'malformed'],
      ['exp missing', { exp: undefined }, 'malformed'],
      ['iat as a string', { iat: String(NOW) }, 'malformed'],
      ['negative iat', { iat: -1 }, 'malformed'],
      ['iat missing', { iat: undefined }, 'malformed'],
      ['iss as an array', { iss: [ISSUER] }, 'malformed'],
      ['iss as an object', { iss: { toString: ISSUER } }, 'malformed'],
      ['iss empty', { iss: '' }, 'malformed'],
      ['aud as an object', { aud: { [AUDIENCE]: true } }, 'malformed'],
      ['aud as an empty array', { aud: [] }, 'malformed'],
      ['aud array holding a number', { aud: [AUDIENCE, 42] }, 'malformed'],
      ['aud as a number', { aud: 42 }, 'malformed'],
      ['aud empty', { aud: '' }, 'malformed'],
      ['sub as a number', { sub: 12345 }, 'malformed'],
      ['sub missing', { sub: undefined }, 'malformed'],
      ['sid as a boolean', { sid: true }, 'malformed'],
      ['jti as a number', { jti: 1 }, 'malformed'],
      ['client_id null', { client_id: null }, 'malformed'],
      ['nbf as a string', { nbf: '0' }, 'malformed'],
      ['scope as an array', { scope: ['orders:read'] }, 'malformed'],
      ['acr as a number', { acr: 2 }, 'malformed'],
      ['amr as a string', { amr: 'pwd' }, 'malformed'],
      ['amr holding a number', { amr: ['pwd', 1] }, 'malformed'],
      ['auth_time as a string', { auth_time: String(NOW) }, 'malformed'],
    ])('%s → %s', async (_, overrides, code) => {
      await expectRefused(local(), forge(ours(), { payload: claims(overrides) }), code);
    });

    it.each([
      ['a JSON array', '[]'],
      ['a JSON string', '"token"'],
      ['a JSON number', '1'],
      ['JSON null', 'null'],
      ['truncated JSON', '{"iss":'],
      ['empty', ''],
    ])('a payload that is %s → malformed', async (_, payloadJson) => {
      await expectRefused(local(), forge(ours(), { payloadJson }), 'malformed');
    });

    it.each([
      ['invalid UTF-8', [0x7b, 0xff, 0x7d]],
      ['an overlong UTF-8 "/"', [...Buffer.from('{"sub":"'), 0xc0, 0xaf, ...Buffer.from('"}')]],
      [
        'a UTF-8-encoded lone surrogate',
        [...Buffer.from('{"sub":"'), 0xed, 0xa0, 0x80, ...Buffer.from('"}')],
      ],
    ])('a payload with %s → malformed', async (_, bytes) => {
      await expectRefused(local(), forge(ours(), { payloadBytes: Uint8Array.from(bytes) }), 'malformed');
    });

    it.each([
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['a JSON string', '"at+jwt"'],
      ['truncated JSON', '{"alg":'],
    ])('a header that is %s → malformed', async (_, headerJson) => {
      await expectRefused(local(), forge(ours(), { headerJson }), 'malformed');
    });
  });

  describe('__proto__ and constructor keys', () => {
    let prototypeNames: string[];
    beforeEach(() => {
      prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();
    });
    afterEach(() => {
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
    });

    const pollutingHeader = (key: SigningKey): string =>
      `{"__proto__":{"polluted":true},"alg":${JSON.stringify(key.alg)},"typ":"at+jwt","kid":${JSON.stringify(key.kid)}}`;
    const withMembers = (members: string, body: Json): string =>
      `{${members},${JSON.stringify(body).slice(1)}`;

    it('in the header and the payload: no prototype pollution, and the payload is refused', async () => {
      const token = forge(ours(), {
        headerJson: pollutingHeader(ours()),
        payloadJson: withMembers('"__proto__":{"polluted":true,"iss":"https://evil.example"}', claims()),
      });
      await expectRefused(local(), token, 'malformed');
    });

    it.each([
      ['escaped as \\u005f', '"\\u005f_proto__":{"isAdmin":true}'],
      ['nested in an app claim', '"profile":{"__proto__":{"isAdmin":true}}'],
      ['inside an array', '"groups":[{"__proto__":{"isAdmin":true}}]'],
    ])(
      'a __proto__ member %s is refused (Object.assign of the claims could not be trusted)',
      async (_how, member) => {
        const token = forge(ours(), { payloadJson: withMembers(member, claims()) });
        await expectRefused(local(), token, 'malformed');
      },
    );

    it('a value that merely mentions __proto__ is accepted', async () => {
      await expectAccepted(local(), forge(ours(), { payload: claims({ scope: 'read __proto__' }) }));
    });

    it('constructor.prototype in the payload: no prototype pollution', async () => {
      const token = forge(ours(), {
        payloadJson: withMembers('"constructor":{"prototype":{"polluted":true}}', claims()),
      });
      const result = await outcome(local(), token);
      if (result.ok) {
        expect(Object.getPrototypeOf(result.claims)).toBe(Object.prototype);
        expect((result.claims as Record<string, unknown>).polluted).toBeUndefined();
      }
    });

    it('a required claim offered only through __proto__ does not count → malformed', async () => {
      const token = forge(ours(), {
        payloadJson: withMembers('"__proto__":{"sid":"sid-1"}', claims({ sid: undefined })),
      });
      await expectRefused(local(), token, 'malformed');
    });

    it.each<[string, VerifyErrorCode]>([
      ['kid', 'malformed'],
      ['alg', 'unsupported_algorithm'],
      ['typ', 'invalid_type'],
    ])('a header %s offered only through __proto__ does not count → %s', async (member, code) => {
      const proper = header(ours());
      const headerJson = withMembers(
        `"__proto__":${JSON.stringify({ [member]: proper[member] })}`,
        header(ours(), { [member]: undefined }),
      );
      await expectRefused(local(), forge(ours(), { headerJson }), code);
    });
  });

  describe('time', () => {
    it('iat 31 s in the future (tolerance 30 s) → not_yet_valid; 29 s → accepted', async () => {
      await expectRefused(
        local(),
        forge(ours(), { payload: claims({ iat: NOW + 31, exp: NOW + 331 }) }),
        'not_yet_valid',
      );
      await expectAccepted(local(), forge(ours(), { payload: claims({ iat: NOW + 29, exp: NOW + 329 }) }));
    });

    it('with clockTolerance 0, iat 1 s in the future → not_yet_valid', async () => {
      await expectRefused(
        local({ clockTolerance: 0 }),
        forge(ours(), { payload: claims({ iat: NOW + 1, exp: NOW + 301 }) }),
        'not_yet_valid',
      );
    });

    it('nbf beyond the tolerance → not_yet_valid', async () => {
      await expectRefused(local(), forge(ours(), { payload: claims({ nbf: NOW + 60 }) }), 'not_yet_valid');
    });

    it('expired beyond the tolerance → expired; within it → accepted', async () => {
      await expectRefused(
        local(),
        forge(ours(), { payload: claims({ iat: NOW - 330, exp: NOW - 30 }) }),
        'expired',
      );
      await expectAccepted(local(), forge(ours(), { payload: claims({ iat: NOW - 329, exp: NOW - 29 }) }));
    });

    it('exp - iat over the 1 h cap → lifetime_exceeded; exactly 1 h → accepted', async () => {
      await expectRefused(
        local(),
        forge(ours(), { payload: claims({ exp: NOW + 3601 }) }),
        'lifetime_exceeded',
      );
      await expectAccepted(local(), forge(ours(), { payload: claims({ exp: NOW + 3600 }) }));
    });

    it('exp - iat over a configured maxLifetime → lifetime_exceeded', async () => {
      await expectRefused(
        local({ maxLifetime: '5m' }),
        forge(ours(), { payload: claims({ exp: NOW + 301 }) }),
        'lifetime_exceeded',
      );
    });

    it('issued longer ago than maxTokenAge (plus tolerance) → lifetime_exceeded; at the limit → accepted', async () => {
      await expectRefused(
        local({ maxTokenAge: '10m' }),
        forge(ours(), { payload: claims({ iat: NOW - 631, exp: NOW + 240 }) }),
        'lifetime_exceeded',
      );
      await expectAccepted(
        local({ maxTokenAge: '10m' }),
        forge(ours(), { payload: claims({ iat: NOW - 600, exp: NOW + 240 }) }),
      );
    });
  });

  describe('serialisations other than compact, and wrong segment counts', () => {
    it('the JWS JSON serialisations of a valid token → malformed', async () => {
      const token = forge(ours());
      const [protectedHeader, payload, signature] = segmentsOf(token);
      await expectAccepted(local(), token);
      await expectRefused(
        local(),
        JSON.stringify({ protected: protectedHeader, payload, signature }),
        'malformed',
      );
      await expectRefused(
        local(),
        JSON.stringify({ payload, signatures: [{ protected: protectedHeader, signature }] }),
        'malformed',
      );
    });

    it.each<[string, (token: string) => string]>([
      ['a trailing dot (4 segments)', (token) => `${token}.`],
      ['a fourth segment', (token) => `${token}.${segmentsOf(token)[2]}`],
      ['five segments', (token) => `${token}.e30.e30`],
      ['six segments', (token) => `${token}...`],
      ['two segments', (token) => token.slice(0, token.lastIndexOf('.'))],
      ['one segment', (token) => segmentsOf(token)[0]],
      ['a leading dot', (token) => `.${token}`],
    ])('%s → malformed', async (_, mangle) => {
      await expectRefused(local(), mangle(forge(ours())), 'malformed');
    });

    it('a JWE-like five-segment token → malformed', async () => {
      const jweHeader = b64u(
        JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM', typ: 'at+jwt', kid: ours().kid }),
      );
      const token = [
        jweHeader,
        b64u(Buffer.alloc(256, 7)),
        b64u(Buffer.alloc(12, 1)),
        b64u('{"sub":"x"}'),
        b64u(Buffer.alloc(16, 2)),
      ].join('.');
      await expectRefused(local(), token, 'malformed');
    });
  });

  describe('non-canonical base64url, signed over exactly the text in the token', () => {
    const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const middle = (segment: string, insert: string): string =>
      `${segment.slice(0, segment.length >> 1)}${insert}${segment.slice(segment.length >> 1)}`;
    const variants: [string, (segment: string) => string][] = [
      ['"=" padding', (segment) => segment + '='.repeat((4 - (segment.length % 4)) % 4)],
      ['the standard alphabet ("+" and "/")', (segment) => segment.replaceAll('-', '+').replaceAll('_', '/')],
      [
        'non-zero unused bits in the last character',
        (segment) => {
          const last = ALPHABET.indexOf(segment.at(-1) as string);
          return `${segment.slice(0, -1)}${ALPHABET[last | 1]}`;
        },
      ],
      ['a space inside', (segment) => middle(segment, ' ')],
      ['a newline inside', (segment) => middle(segment, '\n')],
      ['a tab inside', (segment) => middle(segment, '\t')],
      ['CRLF inside', (segment) => middle(segment, '\r\n')],
      ['a non-ASCII letter inside', (segment) => middle(segment, 'é')],
      ['URL-encoded padding', (segment) => `${segment}%3D`],
    ];

    function canonicalHeader(fill: string): string {
      return b64u(JSON.stringify(header(ours(), { pad: fill })));
    }
    function canonicalPayload(fill: string): string {
      return b64u(JSON.stringify(claims({ note: fill })));
    }
    /** A valid token whose signature segment contains "-" or "_" (EdDSA is deterministic: vary jti). */
    function tokenWithDashInSignature(): string {
      for (let i = 0; i < 500; i++) {
        const token = forge(ours(), { payload: claims({ jti: `jti-${i}` }) });
        if (/[-_]/.test(segmentsOf(token)[2])) return token;
      }
      throw new Error('no signature with "-" or "_" in 500 tries');
    }

    it('control: the canonical versions of these segments are accepted', async () => {
      const headerSegment = canonicalHeader(fillFor(canonicalHeader));
      const payloadSegment = canonicalPayload(fillFor(canonicalPayload));
      await expectAccepted(local(), forge(ours(), { headerSegment, payloadSegment }));
      await expectAccepted(local(), tokenWithDashInSignature());
      expect(headerSegment.length % 4).not.toBe(0);
      expect(payloadSegment.length % 4).not.toBe(0);
    });

    it.each(variants)('header with %s → malformed', async (_, mangle) => {
      const headerSegment = mangle(canonicalHeader(fillFor(canonicalHeader)));
      await expectRefused(local(), forge(ours(), { headerSegment }), 'malformed');
    });

    it.each(variants)('payload with %s → malformed', async (_, mangle) => {
      const payloadSegment = mangle(canonicalPayload(fillFor(canonicalPayload)));
      await expectRefused(local(), forge(ours(), { payloadSegment }), 'malformed');
    });

    it.each(variants)('signature with %s → malformed', async (_, mangle) => {
      const [h, p, s] = segmentsOf(tokenWithDashInSignature());
      expect(s.length % 4).not.toBe(0);
      await expectRefused(local(), `${h}.${p}.${mangle(s)}`, 'malformed');
    });

    it.each<[string, (token: string) => string]>([
      ['a leading space', (token) => ` ${token}`],
      ['a trailing space', (token) => `${token} `],
      ['a trailing newline', (token) => `${token}\n`],
      ['a "Bearer " prefix', (token) => `Bearer ${token}`],
      ['surrounding quotes', (token) => `"${token}"`],
    ])('the whole token with %s → malformed', async (_, mangle) => {
      await expectRefused(local(), mangle(forge(ours())), 'malformed');
    });
  });

  describe('known refusals', () => {
    it.each([
      ['another issuer', { iss: 'https://evil.example.com' }],
      ['our issuer with a trailing slash', { iss: `${ISSUER}/` }],
      ['our issuer in upper case', { iss: ISSUER.toUpperCase() }],
    ])('%s → invalid_issuer', async (_, overrides) => {
      await expectRefused(local(), forge(ours(), { payload: claims(overrides) }), 'invalid_issuer');
    });

    it.each([
      ['another audience', { aud: 'billing-api' }],
      ['a list without ours', { aud: ['billing-api', 'admin-api'] }],
      ['ours in upper case', { aud: AUDIENCE.toUpperCase() }],
      ['ours with a leading space', { aud: ` ${AUDIENCE}` }],
    ])('%s → invalid_audience', async (_, overrides) => {
      await expectRefused(local(), forge(ours(), { payload: claims(overrides) }), 'invalid_audience');
    });

    it('a list that contains our audience is accepted (control)', async () => {
      await expectAccepted(local(), forge(ours(), { payload: claims({ aud: ['billing-api', AUDIENCE] }) }));
    });

    it('an unknown kid → unknown_key', async () => {
      await expectRefused(local(), forge(attacker()), 'unknown_key');
    });

    it('a signature by another key under our kid → bad_signature', async () => {
      await expectRefused(local(), forge(impostor()), 'bad_signature');
    });

    it('a payload swapped after signing → bad_signature', async () => {
      const [h, , s] = segmentsOf(forge(ours()));
      const [, elevated] = segmentsOf(forge(ours(), { payload: claims({ scope: 'orders:read admin' }) }));
      await expectRefused(local(), `${h}.${elevated}.${s}`, 'bad_signature');
    });

    it('a header respelled after signing (typ case) → bad_signature', async () => {
      const [, p, s] = segmentsOf(forge(ours()));
      const respelled = b64u(JSON.stringify(header(ours(), { typ: 'AT+JWT' })));
      await expectRefused(local(), `${respelled}.${p}.${s}`, 'bad_signature');
    });

    it('a revoked session → revoked', async () => {
      const clock = createFakeClock(NOW_MS);
      const revocations = createMemoryDenylist({ clock });
      const verifier = local({ clock, revocations });
      const token = forge(ours());
      await expectAccepted(verifier, token);
      revocations.revoke('sid-1', NOW_MS + 10 * 60_000);
      await expectRefused(verifier, token, 'revoked');
    });
  });

  describe('with the verified-token cache warm', () => {
    it('forgeries next to a cached valid token are still refused', async () => {
      const clock = createFakeClock(NOW_MS);
      const verifier = local({ clock, cache: true });
      const token = forge(ours());
      await expectAccepted(verifier, token);
      await expectAccepted(verifier, token);
      const [h, p, s] = segmentsOf(token);
      await expectRefused(verifier, forge(impostor()), 'bad_signature');
      await expectRefused(
        verifier,
        `${b64u(JSON.stringify(header(ours(), { alg: 'none' })))}.${p}.`,
        'unsupported_algorithm',
      );
      // One flipped bit in the first signature byte: canonical, same length, certainly different.
      const flipped = Buffer.from(s, 'base64url');
      flipped[0] = (flipped[0] as number) ^ 1;
      expect(b64u(flipped)).not.toBe(s);
      await expectRefused(verifier, `${h}.${p}.${b64u(flipped)}`, 'bad_signature');
      await expectRefused(verifier, `${token} `, 'malformed');
      clock.advance(331_000);
      await expectRefused(verifier, token, 'expired');
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Signature values, on both backends
// ---------------------------------------------------------------------------------------------

interface SignatureForgery {
  readonly codes: readonly VerifyErrorCode[];
  make(context: { valid: Uint8Array; key: SigningKey; input: string }): Uint8Array;
}

function toBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let rest = value;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  if (rest !== 0n) throw new RangeError('value does not fit');
  return out;
}

const fromBytes = (bytes: Uint8Array): bigint =>
  bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const modulusOf = (key: SigningKey): Uint8Array =>
  Uint8Array.from(Buffer.from((key.publicJwk as { n: string }).n, 'base64url'));

const BAD = ['bad_signature'] as const;
const BAD_OR_MALFORMED = ['bad_signature', 'malformed'] as const;

const SIGNATURE_FORGERIES: Record<Alg, Record<string, SignatureForgery>> = {
  EdDSA: {
    '64 zero bytes': { codes: BAD, make: () => new Uint8Array(64) },
    '64 0xff bytes': { codes: BAD, make: () => new Uint8Array(64).fill(0xff) },
    'identity R with S = 0': { codes: BAD, make: () => concat(Uint8Array.of(1), new Uint8Array(63)) },
    'S + L (a non-canonical twin of a valid signature)': {
      codes: BAD,
      make: ({ valid }) => {
        const s = fromBytes(valid.slice(32).reverse());
        return concat(valid.slice(0, 32), toBytes(s + ED25519_L, 32).reverse());
      },
    },
    'S = L': {
      codes: BAD,
      make: ({ valid }) => concat(valid.slice(0, 32), toBytes(ED25519_L, 32).reverse()),
    },
    '63 bytes (truncated)': { codes: BAD_OR_MALFORMED, make: ({ valid }) => valid.slice(0, 63) },
    '65 bytes (one extra)': { codes: BAD_OR_MALFORMED, make: ({ valid }) => concat(valid, Uint8Array.of(0)) },
    empty: { codes: BAD_OR_MALFORMED, make: () => new Uint8Array(0) },
  },
  ES256: {
    'r = s = 0 (64 zero bytes)': { codes: BAD, make: () => new Uint8Array(64) },
    'r = s = n (the curve order)': {
      codes: BAD,
      make: () => concat(toBytes(P256_N, 32), toBytes(P256_N, 32)),
    },
    'r = 0, s valid': { codes: BAD, make: ({ valid }) => concat(new Uint8Array(32), valid.slice(32)) },
    'r valid, s = 0': { codes: BAD, make: ({ valid }) => concat(valid.slice(0, 32), new Uint8Array(32)) },
    'r = n, s valid': { codes: BAD, make: ({ valid }) => concat(toBytes(P256_N, 32), valid.slice(32)) },
    'r valid, s = n': { codes: BAD, make: ({ valid }) => concat(valid.slice(0, 32), toBytes(P256_N, 32)) },
    'r = s = 1': { codes: BAD, make: () => concat(toBytes(1n, 32), toBytes(1n, 32)) },
    '64 0xff bytes': { codes: BAD, make: () => new Uint8Array(64).fill(0xff) },
    '63 bytes (truncated)': { codes: BAD_OR_MALFORMED, make: ({ valid }) => valid.slice(0, 63) },
    '65 bytes (one extra)': { codes: BAD_OR_MALFORMED, make: ({ valid }) => concat(valid, Uint8Array.of(0)) },
    'the DER encoding of a valid signature (70–72 bytes)': {
      codes: BAD_OR_MALFORMED,
      make: ({ key, input }) => rawSign(key, 'ES256-DER', input),
    },
    'a valid signature DER-padded to 72 bytes': {
      codes: BAD_OR_MALFORMED,
      make: ({ valid }) => {
        const r = concat(Uint8Array.of(0), valid.slice(0, 32));
        const s = concat(Uint8Array.of(0), valid.slice(32));
        return concat(Uint8Array.of(0x30, 70, 0x02, 33), r, Uint8Array.of(0x02, 33), s);
      },
    },
    empty: { codes: BAD_OR_MALFORMED, make: () => new Uint8Array(0) },
  },
  RS256: {
    'all zero bytes': { codes: BAD, make: ({ key }) => new Uint8Array(modulusOf(key).length) },
    'the value 1': {
      codes: BAD,
      make: ({ key }) => toBytes(1n, modulusOf(key).length),
    },
    'the modulus n itself': { codes: BAD, make: ({ key }) => modulusOf(key) },
    'n - 1': {
      codes: BAD,
      make: ({ key }) => toBytes(fromBytes(modulusOf(key)) - 1n, modulusOf(key).length),
    },
    'all 0xff bytes (above n)': {
      codes: BAD,
      make: ({ key }) => new Uint8Array(modulusOf(key).length).fill(0xff),
    },
    'one byte short': { codes: BAD_OR_MALFORMED, make: ({ valid }) => valid.slice(1) },
    'a valid signature with a leading zero byte': {
      codes: BAD_OR_MALFORMED,
      make: ({ valid }) => concat(Uint8Array.of(0), valid),
    },
    'a PS256 signature of the same input': {
      codes: BAD,
      make: ({ key, input }) => rawSign(key, 'PS256', input),
    },
    empty: { codes: BAD_OR_MALFORMED, make: () => new Uint8Array(0) },
  },
};

describe.each<Backend>(['node', 'webcrypto'])(
  'signature values that must never verify (%s backend)',
  (backend) => {
    describe.each(ALGS)('%s', (alg) => {
      it('control: a valid signature verifies on this backend', async () => {
        const key = keysOf(alg).ours;
        await expectAccepted(verifierFor(jwksOf(key), {}, backend), forge(key));
      });

      it.each(Object.entries(SIGNATURE_FORGERIES[alg]))('%s → refused', async (_, forgery) => {
        const key = keysOf(alg).ours;
        const input = signingInput(key);
        const valid = rawSign(key, alg, input);
        const signature = forgery.make({ valid, key, input });
        await expectRefused(
          verifierFor(jwksOf(key), {}, backend),
          `${input}.${b64u(signature)}`,
          forgery.codes,
        );
      });

      it('a signature by the impostor key under our kid → bad_signature', async () => {
        const { ours, impostor } = keysOf(alg);
        await expectRefused(verifierFor(jwksOf(ours), {}, backend), forge(impostor), 'bad_signature');
      });
    });

    describe('RSA padding confusion (a JWK without "alg" verifies RS256 and PS256)', () => {
      const bareJwks = (): { keys: unknown[] } => {
        const { alg: _alg, ...bare } = keysOf('RS256').ours.publicJwk as Json;
        return { keys: [bare] };
      };

      it('control: PS256 signed as PS256 is accepted', async () => {
        const key = keysOf('RS256').ours;
        const token = forge(key, { header: header(key, { alg: 'PS256' }), scheme: 'PS256' });
        await expectAccepted(verifierFor(bareJwks(), {}, backend), token);
      });

      it('header RS256 over a PSS signature → bad_signature', async () => {
        const key = keysOf('RS256').ours;
        await expectRefused(
          verifierFor(bareJwks(), {}, backend),
          forge(key, { scheme: 'PS256' }),
          'bad_signature',
        );
      });

      it('header PS256 over a PKCS#1 v1.5 signature → bad_signature', async () => {
        const key = keysOf('RS256').ours;
        const token = forge(key, { header: header(key, { alg: 'PS256' }), scheme: 'RS256' });
        await expectRefused(verifierFor(bareJwks(), {}, backend), token, 'bad_signature');
      });

      it('header PS256 with a genuine PSS signature, against a JWK pinned to RS256 → unsupported_algorithm', async () => {
        const key = keysOf('RS256').ours;
        const token = forge(key, { header: header(key, { alg: 'PS256' }), scheme: 'PS256' });
        await expectRefused(verifierFor(jwksOf(key), {}, backend), token, 'unsupported_algorithm');
      });
    });
  },
);

// ---------------------------------------------------------------------------------------------
// Refresh tokens and access tokens swapped
// ---------------------------------------------------------------------------------------------

describe('refresh and access tokens swapped', () => {
  it('a real refresh token presented as a bearer token → malformed; the access token verifies', async () => {
    const { kit, clock } = await createTestKit();
    const { tokens } = await issueOk(kit);
    expect(tokens.refreshToken.startsWith('skr_')).toBe(true);
    const verifier = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwks: kit.jwks(),
      clock,
    });
    await expectAccepted(verifier, tokens.accessToken);
    await expectRefused(verifier, tokens.refreshToken, 'malformed');
  });

  it('an access token sent to renew as a refresh token → rejected as malformed, store untouched', async () => {
    const { kit, eventsOf } = await createTestKit();
    const { tokens } = await issueOk(kit);
    const result = await kit.renew(tokens.accessToken);
    expect(result).toEqual({ type: 'rejected', reason: 'malformed' });
    expect(eventsOf('session.rejected').map((event) => event.reason)).toEqual(['malformed']);
    expect(eventsOf('session.renewed')).toHaveLength(0);
    // The refresh token still works: the bogus attempt did not burn or revoke anything.
    const renewed = await kit.renew(tokens.refreshToken);
    expect(renewed.type).toBe('renewed');
  });
});
