/**
 * Interoperability with independent JWT libraries, in both directions. Tokens a real sessionkit kit
 * mints must verify with jsonwebtoken, fast-jwt and jose given nothing but the published JWKS (each
 * library gets the public key converted to SPKI PEM, or the JWKS itself for jose). And tokens those
 * libraries sign with the RFC 9068 header and claims must verify with `createAccessTokenVerifier`,
 * so a service can mix sessionkit with another issuer's tooling without surprises.
 */

import {
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  type JsonWebKey as NodeJsonWebKey,
} from 'node:crypto';
import { createSigner, createVerifier } from 'fast-jwt';
import { createLocalJWKSet, type JWK, jwtVerify, SignJWT } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, type SigningAlgorithm } from '../keys/signing-key.js';
import {
  createTestKit,
  issueOk,
  MINUTE,
  TEST_AUDIENCE,
  TEST_ISSUER,
  TEST_START,
  type TestKit,
} from '../test-support/fixtures.js';
import { createAccessTokenVerifier } from './index.js';

const ALGORITHMS = ['EdDSA', 'ES256', 'RS256', 'PS256'] as const satisfies readonly SigningAlgorithm[];
/** jsonwebtoken 9 knows no EdDSA (no OKP key type, no Ed25519 signing), so it covers these only. */
const JSONWEBTOKEN_ALGORITHMS = ['ES256', 'RS256', 'PS256'] as const;

/** SPKI PEM of a public JWK, the key format jsonwebtoken and fast-jwt take. */
function pemOf(jwk: JWK): string {
  return createPublicKey({ key: jwk as NodeJsonWebKey, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}

/** Flips the last signature character, keeping the token well-formed. */
function tamper(token: string): string {
  const last = token.at(-1);
  return `${token.slice(0, -1)}${last === 'A' ? 'Q' : 'A'}`;
}

interface Minted {
  readonly t: TestKit;
  readonly token: string;
  readonly sessionId: string;
  readonly pem: string;
}

describe.each(ALGORITHMS.map((alg) => [alg]))('%s access tokens minted by sessionkit', (alg) => {
  let minted: Minted;
  const expected = () => ({
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    sub: 'alice',
    sid: minted.sessionId,
    client_id: 'web',
    scope: 'orders:read orders:write',
    iat: TEST_START / 1000,
    exp: (TEST_START + 5 * MINUTE) / 1000,
  });

  beforeAll(async () => {
    const t = await createTestKit({ signingKey: await generateSigningKey({ alg, kid: `interop-${alg}` }) });
    const issued = await issueOk(t.kit, {
      subject: 'alice',
      clientId: 'web',
      scope: 'orders:read orders:write',
    });
    const [jwk] = t.kit.jwks().keys;
    if (jwk === undefined) throw new Error('the kit publishes no key');
    minted = { t, token: issued.tokens.accessToken, sessionId: issued.sessionId, pem: pemOf(jwk) };
  });

  it('jose verifies them against the published JWKS, typ at+jwt', async () => {
    const { payload, protectedHeader } = await jwtVerify(
      minted.token,
      createLocalJWKSet(minted.t.kit.jwks()),
      {
        algorithms: [alg],
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        typ: 'at+jwt',
        currentDate: new Date(TEST_START),
      },
    );
    expect(protectedHeader).toEqual({ alg, typ: 'at+jwt', kid: `interop-${alg}` });
    expect(payload).toMatchObject(expected());
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('fast-jwt verifies them with the public key as PEM', () => {
    const verify = createVerifier({
      key: minted.pem,
      algorithms: [alg],
      allowedIss: TEST_ISSUER,
      allowedAud: TEST_AUDIENCE,
      checkTyp: 'at+jwt',
      clockTimestamp: TEST_START,
    });
    const payload = verify(minted.token) as Record<string, unknown>;
    expect(payload).toMatchObject(expected());
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  if (alg === 'EdDSA') {
    it('jsonwebtoken 9 cannot verify them: it has no EdDSA support at all', () => {
      // Not an interop failure on our side: jsonwebtoken 9 refuses the Ed25519 key type outright, so
      // EdDSA interop is covered by fast-jwt and jose above. If this starts passing, add EdDSA to
      // JSONWEBTOKEN_ALGORITHMS.
      expect(() =>
        jsonwebtoken.verify(minted.token, minted.pem, {
          algorithms: ['EdDSA' as jsonwebtoken.Algorithm],
          clockTimestamp: TEST_START / 1000,
        }),
      ).toThrow(/Unknown key type "ed25519"/);
    });
  } else {
    it('jsonwebtoken verifies them with the public key as PEM', () => {
      const payload = jsonwebtoken.verify(minted.token, minted.pem, {
        algorithms: [alg],
        issuer: TEST_ISSUER,
        audience: TEST_AUDIENCE,
        clockTimestamp: TEST_START / 1000,
      }) as Record<string, unknown>;
      expect(payload).toMatchObject(expected());
      expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
    });
  }

  it('every library refuses the same token with one signature character changed', async () => {
    const forged = tamper(minted.token);
    await expect(
      jwtVerify(forged, createLocalJWKSet(minted.t.kit.jwks()), { currentDate: new Date(TEST_START) }),
    ).rejects.toThrow(/signature/);
    expect(() => createVerifier({ key: minted.pem, clockTimestamp: TEST_START })(forged)).toThrow(
      /signature/,
    );
    if (alg !== 'EdDSA') {
      expect(() =>
        jsonwebtoken.verify(forged, minted.pem, { algorithms: [alg], clockTimestamp: TEST_START / 1000 }),
      ).toThrow(/signature/);
    }
  });
});

/** A key pair made by node:crypto, unrelated to sessionkit, published as a JWKS entry. */
interface ForeignKey {
  readonly alg: SigningAlgorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly privatePem: string;
  readonly publicJwk: JWK;
}

function foreignKey(alg: SigningAlgorithm): ForeignKey {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `foreign-${alg}`;
  return {
    alg,
    kid,
    privateKey: pair.privateKey,
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' },
  };
}

describe('access tokens signed by other libraries verify with createAccessTokenVerifier', () => {
  const keys = new Map<SigningAlgorithm, ForeignKey>(ALGORITHMS.map((alg) => [alg, foreignKey(alg)]));
  const keyFor = (alg: SigningAlgorithm) => keys.get(alg) as ForeignKey;
  const verifier = createAccessTokenVerifier({
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    jwks: { keys: [...keys.values()].map((key) => key.publicJwk) },
  });
  /** RFC 9068 §2.2 claims plus sessionkit's `sid`, issued now with a five-minute lifetime. */
  const claims = () => {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: TEST_ISSUER,
      sub: 'bob',
      aud: TEST_AUDIENCE,
      iat,
      exp: iat + 300,
      jti: `jti-${Math.random().toString(36).slice(2)}`,
      client_id: 'cli',
      sid: 'session-1',
      scope: 'orders:read',
    };
  };

  async function expectAccepted(token: string, sent: ReturnType<typeof claims>) {
    const result = await verifier.verify(token, { scope: 'orders:read' });
    expect(result).toEqual({ ok: true, claims: expect.objectContaining(sent) });
  }

  it.each(ALGORITHMS.map((alg) => [alg]))('jose SignJWT, %s', async (alg) => {
    const key = keyFor(alg);
    const sent = claims();
    const token = await new SignJWT(sent)
      .setProtectedHeader({ alg, typ: 'at+jwt', kid: key.kid })
      .sign(key.privateKey);
    await expectAccepted(token, sent);
  });

  it.each(ALGORITHMS.map((alg) => [alg]))('fast-jwt createSigner, %s', async (alg) => {
    const key = keyFor(alg);
    const sent = claims();
    const sign = createSigner({
      key: key.privatePem,
      algorithm: alg,
      kid: key.kid,
      header: { alg, typ: 'at+jwt' },
    });
    await expectAccepted(sign(sent), sent);
  });

  it.each(JSONWEBTOKEN_ALGORITHMS.map((alg) => [alg]))('jsonwebtoken sign, %s', async (alg) => {
    const key = keyFor(alg);
    const sent = claims();
    const token = jsonwebtoken.sign(sent, key.privatePem, {
      algorithm: alg,
      keyid: key.kid,
      header: { alg, typ: 'at+jwt' },
    });
    await expectAccepted(token, sent);
  });

  it("refuses jsonwebtoken's default typ JWT: an ID token or other JWT is not an access token", async () => {
    const key = keyFor('ES256');
    const token = jsonwebtoken.sign(claims(), key.privatePem, { algorithm: 'ES256', keyid: key.kid });
    const result = await verifier.verify(token);
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ code: 'invalid_type' }) });
  });
});
