/**
 * The resource guard: bearer extraction, verification through the verifier (scope, acr and
 * authentication age included), and the RFC 6750 / RFC 9470 refusals, down to the exact
 * WWW-Authenticate values. Tokens come from a real kit on a fake clock.
 */

import { beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import {
  createTestKit,
  issueOk,
  MINUTE,
  renewedOrThrow,
  TEST_AUDIENCE,
  TEST_ISSUER,
  type TestKit,
} from '../test-support/fixtures.js';
import { createMemoryDenylist, type RevocationDenylist } from '../verify/revocations.js';
import type { KeyLookup, KeySource } from '../verify/types.js';
import { type AccessTokenVerifier, createAccessTokenVerifier } from '../verify/verifier.js';
import { createResourceGuard } from './resource-guard.js';
import type { GuardResult, HttpResponse, ResourceOptions } from './types.js';

let t: TestKit;
let revocations: RevocationDenylist;
let verifier: AccessTokenVerifier;
let token: string;
let sid: string;

beforeEach(async () => {
  t = await createTestKit();
  revocations = createMemoryDenylist({ clock: t.clock });
  verifier = createAccessTokenVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    jwks: t.kit.jwks(),
    clock: t.clock,
    revocations,
  });
  const issued = await issueOk(t.kit, { scope: 'read write', authContext: { amr: ['pwd'], acr: 'aal1' } });
  token = issued.tokens.accessToken;
  sid = issued.sessionId;
});

function guard(options: Partial<ResourceOptions> = {}) {
  return createResourceGuard({ verifier, ...options });
}

function authenticate(
  options: Partial<ResourceOptions>,
  headers: Record<string, string>,
  bodyToken?: unknown,
) {
  return guard(options).authenticate({
    headers: new Headers(headers),
    ...(bodyToken === undefined ? {} : { bodyToken }),
  });
}

function refusal(result: GuardResult): HttpResponse {
  expect(result.ok).toBe(false);
  return (result as { response: HttpResponse }).response;
}

function challenge(response: HttpResponse): string | undefined {
  return response.headers.find(([name]) => name === 'WWW-Authenticate')?.[1];
}

const bearer = () => ({ authorization: `Bearer ${token}` });

describe('createResourceGuard', () => {
  it('accepts a valid token and hands out its claims', async () => {
    const result = await authenticate({}, bearer());
    expect(result.ok && result.claims).toMatchObject({ sub: 'alice', sid, scope: 'read write' });
  });

  it('answers a request without a bearer token with 401 and a challenge without error', async () => {
    for (const headers of [{}, { authorization: 'Basic YWxpY2U6c2VjcmV0' }]) {
      const response = refusal(await authenticate({}, headers));
      expect(response.status).toBe(401);
      expect(challenge(response)).toBe('Bearer realm="sessionkit"');
      expect(response.body).toMatchObject({ error: 'invalid_token', code: 'invalid_token' });
    }
    const custom = refusal(await authenticate({ realm: 'orders api' }, {}));
    expect(challenge(custom)).toBe('Bearer realm="orders api"');
  });

  it('ignores a token that is only in the body (header only), and refuses one in both with 400', async () => {
    expect(refusal(await authenticate({}, {}, token)).status).toBe(401);
    const both = refusal(await authenticate({}, bearer(), token));
    expect(both.status).toBe(400);
    expect(challenge(both)).toBe('Bearer realm="sessionkit", error="invalid_request"');
    expect(both.body).toMatchObject({ error: 'invalid_request', code: 'invalid_request' });
    expect((await authenticate({}, bearer(), '')).ok).toBe(true);
    expect((await authenticate({}, bearer(), null)).ok).toBe(true);
  });

  it('reads a lazy body token only after the header token verified, and refuses a second token with 400', async () => {
    const readBodyToken = vi.fn(async () => token);
    const withBody = (headers: Record<string, string>) =>
      guard().authenticate({ headers: new Headers(headers), readBodyToken });
    expect(refusal(await withBody({})).status).toBe(401);
    expect(refusal(await withBody({ authorization: 'Bearer garbage' })).status).toBe(401);
    expect(readBodyToken).not.toHaveBeenCalled();
    const twice = refusal(await withBody(bearer()));
    expect(twice.status).toBe(400);
    expect(challenge(twice)).toBe('Bearer realm="sessionkit", error="invalid_request"');
    expect(readBodyToken).toHaveBeenCalledOnce();
    const plain = await guard().authenticate({
      headers: new Headers(bearer()),
      readBodyToken: () => undefined,
    });
    expect(plain.ok).toBe(true);
    const unreadable = await guard().authenticate({
      headers: new Headers(bearer()),
      readBodyToken: () => Promise.reject(new Error('bad form')),
    });
    expect(refusal(unreadable).status).toBe(400);
  });

  it('answers a malformed Authorization header with 400 invalid_request', async () => {
    const response = refusal(await authenticate({}, { authorization: `Bearer ${token} extra` }));
    expect(response.status).toBe(400);
    expect(challenge(response)).toBe('Bearer realm="sessionkit", error="invalid_request"');
  });

  it('answers invalid, expired and revoked tokens alike: 401 error="invalid_token", no detail', async () => {
    const second = await issueOk(t.kit, {});
    const cases: [string, string, () => void][] = [
      ['tampered', `${token.slice(0, -4)}AAAA`, () => {}],
      [
        'revoked',
        second.tokens.accessToken,
        () => revocations.revoke(second.sessionId, t.clock.now() + 10 * MINUTE),
      ],
      ['expired', token, () => t.clock.advance(6 * MINUTE)],
    ];
    for (const [label, presented, arrange] of cases) {
      expect(
        (await authenticate({}, { authorization: `Bearer ${presented}` })).ok || label === 'tampered',
      ).toBe(true);
      arrange();
      const response = refusal(await authenticate({}, { authorization: `Bearer ${presented}` }));
      expect(response.status, label).toBe(401);
      expect(challenge(response)).toBe('Bearer realm="sessionkit", error="invalid_token"');
      expect(response.body).toEqual({
        error: 'invalid_token',
        error_description: 'The access token is invalid or expired.',
        code: 'invalid_token',
      });
      const text = JSON.stringify(response);
      expect(text).not.toContain(presented);
      expect(text).not.toMatch(/alice|revoked|signature/);
    }
  });

  it('requires every configured scope: 403 insufficient_scope with the required scopes', async () => {
    expect((await authenticate({ scope: 'read' }, bearer())).ok).toBe(true);
    expect((await authenticate({ scope: ['read', 'write'] }, bearer())).ok).toBe(true);
    const response = refusal(await authenticate({ scope: ['read', 'admin'] }, bearer()));
    expect(response.status).toBe(403);
    expect(challenge(response)).toBe(
      'Bearer realm="sessionkit", error="insufficient_scope", scope="read admin"',
    );
    expect(response.body).toMatchObject({ error: 'insufficient_scope', code: 'insufficient_scope' });
  });

  it('requires one of the configured acr values: 401 insufficient_user_authentication with acr_values', async () => {
    expect((await authenticate({ acr: ['aal1', 'aal2'] }, bearer())).ok).toBe(true);
    const response = refusal(await authenticate({ acr: ['aal2', 'aal3'] }, bearer()));
    expect(response.status).toBe(401);
    expect(challenge(response)).toBe(
      'Bearer realm="sessionkit", error="insufficient_user_authentication", acr_values="aal2 aal3"',
    );
    expect(response.body).toMatchObject({
      error: 'insufficient_user_authentication',
      code: 'insufficient_acr',
    });
  });

  it('requires a recent authentication: 401 insufficient_user_authentication with max_age in seconds', async () => {
    const issued = await issueOk(t.kit, {});
    t.clock.advance(10 * MINUTE);
    const renewed = renewedOrThrow(await t.kit.renew(issued.tokens.refreshToken));
    const headers = { authorization: `Bearer ${renewed.tokens.accessToken}` };
    expect((await authenticate({ maxAuthAge: '15m' }, headers)).ok).toBe(true);
    const response = refusal(await authenticate({ maxAuthAge: '5m' }, headers));
    expect(response.status).toBe(401);
    expect(challenge(response)).toBe(
      'Bearer realm="sessionkit", error="insufficient_user_authentication", max_age="300"',
    );
    expect(response.body).toMatchObject({ code: 'auth_too_old' });
  });

  it('answers 503 with Retry-After when the issuer keys cannot be fetched', async () => {
    const unreachable: KeySource = {
      peek: () => undefined,
      resolve: async (): Promise<KeyLookup> => 'jwks_unavailable',
    };
    const remote = createAccessTokenVerifier({
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      jwks: unreachable,
      clock: t.clock,
    });
    const response = refusal(await authenticate({ verifier: remote }, bearer()));
    expect(response.status).toBe(503);
    expect(response.headers).toContainEqual(['Retry-After', '1']);
    expect(response.body).toMatchObject({ error: 'temporarily_unavailable', code: 'jwks_unavailable' });
  });

  it('maps a revocation list that throws to 503 (store fault) or 500, reported to onError', async () => {
    const onError = vi.fn();
    for (const [fault, status] of [
      [new StoreUnavailableError('redis down'), 503],
      [new Error('bug'), 500],
    ] as const) {
      const failing = createAccessTokenVerifier({
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        jwks: t.kit.jwks(),
        clock: t.clock,
        revocations: {
          isRevoked: async () => {
            throw fault;
          },
        },
      });
      const response = refusal(await authenticate({ verifier: failing, onError }, bearer()));
      expect(response.status).toBe(status);
      expect(onError).toHaveBeenLastCalledWith(fault);
    }
  });
});

describe('createResourceGuard options', () => {
  const create = (options: Record<string, unknown>) => () =>
    createResourceGuard({ verifier, ...options } as unknown as ResourceOptions);

  it('requires a verifier and refuses unknown options', () => {
    expect(create({ verifier: undefined })).toThrow(
      /verifier is required, from createAccessTokenVerifier\(\)/,
    );
    expect(create({ verifier: { verify: 'no' } })).toThrow(/verifier is required/);
    expect(create({ scopes: 'read' })).toThrow(/unknown option "scopes"/);
  });

  it('refuses scopes and acr values that are empty or could not be written in a challenge', () => {
    expect(create({ scope: [] })).toThrow(/scope must be a string or a non-empty array/);
    expect(create({ scope: 'read write' })).toThrow(/scope\[0\] must be one of scope tokens/);
    expect(create({ scope: ['read', 'a"b'] })).toThrow(/scope\[1\]/);
    expect(create({ acr: [''] })).toThrow(/acr\[0\] must be one of acr values/);
    expect(create({ scope: 'orders:read', acr: ['aal2', 'urn:example:mfa'] })).not.toThrow();
  });

  it('refuses a maxAuthAge that is not a duration, a bad realm and a non-function onError', () => {
    expect(create({ maxAuthAge: '5 minutes' })).toThrow(/maxAuthAge must be a duration/);
    expect(create({ maxAuthAge: -1 })).toThrow(/maxAuthAge must be a duration/);
    expect(create({ realm: 'a"b' })).toThrow(/realm must be 1 to 128 printable ASCII characters/);
    expect(create({ realm: '' })).toThrow(/realm/);
    expect(create({ onError: true })).toThrow(/onError must be a function/);
    expect(create({ maxAuthAge: 300, realm: 'api', onError() {} })).not.toThrow();
  });
});
