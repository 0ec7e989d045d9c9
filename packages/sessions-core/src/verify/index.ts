/**
 * `@sessionkit/sessions-core/verify`: everything a resource service needs to accept access tokens
 * offline — the verifier, local and remote JWKS sources, the revocation denylist and the
 * per-request requirement helpers. This entry is edge-safe: it reaches only jose and Web Crypto and
 * never imports from `node:` (a test walks its import graph to keep it that way).
 */

export type { DurationInput } from '../config/duration.js';
export type { SigningAlgorithm } from '../keys/signing-key.js';
export type { Clock } from '../runtime/clock.js';
export { toVerificationKey } from './jwk.js';
export { createLocalJwks } from './local-jwks.js';
export type {
  RemoteJwks,
  RemoteJwksError,
  RemoteJwksErrorCode,
  RemoteJwksOptions,
  RemoteJwksStatus,
} from './remote-jwks.js';
export { createRemoteJwks } from './remote-jwks.js';
export { requireAcr, requireAuthAge, requireScope } from './requirements.js';
export type { MemoryDenylistOptions, RevocationDenylist, RevocationList } from './revocations.js';
export { createMemoryDenylist } from './revocations.js';
export type {
  AccessTokenClaims,
  KeyLookup,
  KeySource,
  VerificationKey,
  VerifyError,
  VerifyErrorCode,
  VerifyResult,
} from './types.js';
export type { AccessTokenVerifier, AccessTokenVerifierOptions, VerifyRequirements } from './verifier.js';
export { createAccessTokenVerifier, MAX_TOKEN_LENGTH } from './verifier.js';
