/**
 * @sessionkit/sessions-core — the authority side of sessionkit: configuration, domain types, token
 * formats, signing keys, the repository contract with its in-memory reference implementation, and
 * the lifecycle services behind `createSessionKit`. Every public name is re-exported explicitly.
 */

export { ACCESS_TOKEN_TTL_CAP_MS, parseSessionConfig, type SessionConfigInput } from './config/config.js';
export { parseDuration } from './config/duration.js';
export { ASSURANCE_PRESETS, type PresetLimits } from './config/presets.js';
export type {
  AssurancePreset,
  BindingConfig,
  BindingPolicy,
  BindingSignal,
  SessionConfig,
} from './config/types.js';
export {
  type Brand,
  type FamilyId,
  isUuidV7,
  type LeaseId,
  type SessionId,
  type TokenHandle,
  type TokenHash,
  uuidv7,
  uuidv7Timestamp,
} from './domain/ids.js';
export {
  type AuthContext,
  type ClientContext,
  type Family,
  type FamilyWithSessions,
  type Grant,
  REVOKE_REASONS,
  type RefreshTokenRecord,
  type RevokeReason,
  type Session,
  type TokenLookup,
} from './domain/types.js';
export {
  ConfigError,
  CryptoError,
  InvalidArgumentError,
  isSessionKitError,
  KeyError,
  SessionKitError,
  type SessionKitErrorCode,
  StoreConflictError,
  StoreUnavailableError,
} from './errors.js';
export type { EventSink, RejectReason, SessionEvent, SessionEventType } from './events/events.js';
export {
  createKeySet,
  type KeySet,
  type KeySetEntry,
  type KeySetOptions,
  type KeyState,
} from './keys/key-set.js';
export {
  exportPublicKey,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  type KeyFormat,
  publicPart,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type SigningKey,
} from './keys/signing-key.js';
export {
  createMemoryRepository,
  createMemoryStore,
  type MemoryStore,
  type MemoryStoreOptions,
} from './repository/memory-repository.js';
export type {
  CreateFamilyInput,
  CreateFamilyResult,
  LeaseResult,
  RenewCurrentInput,
  RenewCurrentResult,
  ReplaceSessionInput,
  ReplaceSessionResult,
  RepositoryStats,
  RevokeResult,
  RotateInput,
  RotateResult,
  SessionLimitPolicy,
  SessionRepository,
} from './repository/repository.js';
export { type Clock, createFakeClock, type FakeClock, systemClock } from './runtime/clock.js';
export { createSeededRandom, cryptoRandom, type RandomSource } from './runtime/random.js';
export type { ClaimsSchema, GeoLookup, GeoPoint } from './services/context.js';
export type {
  BindingAlert,
  ElevateInput,
  ElevateResult,
  IssueInput,
  IssueResult,
  RenewContext,
  RenewResult,
  RevokeOutcome,
  RevokeScope,
  SessionKitStats,
  SessionSummary,
  TokenSet,
} from './services/types.js';
export {
  createSessionKit,
  type SessionKit,
  type SessionKitCommonOptions,
  type SessionKitOptions,
} from './session-kit.js';
export type { AccessTokenInput } from './tokens/access-token.js';
export { RESERVED_CLAIMS, signAccessToken } from './tokens/access-token.js';
export {
  createRefreshTokenHasher,
  formatRefreshToken,
  generateRefreshToken,
  hashesEqual,
  MAX_REFRESH_TOKEN_LENGTH,
  parseRefreshToken,
  REFRESH_TOKEN_PREFIX,
  type RefreshTokenHasher,
  tokenHandle,
} from './tokens/refresh-token.js';
