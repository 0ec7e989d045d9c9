/**
 * The domain model of DESIGN §2: families, sessions and refresh-token records, and the closed unions
 * of states and reasons. These are plain data: repositories store them, services decide with them.
 * No type here ever holds a raw refresh token — only its hash.
 */

import type { FamilyId, SessionId, TokenHash } from './ids.js';

/** Why a family, a session or a token was revoked. A closed union: events and audits rely on it. */
export type RevokeReason =
  | 'logout'
  | 'replay_detected'
  | 'admin'
  | 'evicted'
  | 'expired'
  | 'password_changed'
  | 'suspicious';

/** Every revoke reason, for validation and exhaustive tests. */
export const REVOKE_REASONS: readonly RevokeReason[] = [
  'logout',
  'replay_detected',
  'admin',
  'evicted',
  'expired',
  'password_changed',
  'suspicious',
];

/** How the user authenticated (OIDC `auth_time`, `amr`, `acr`). */
export interface AuthContext {
  /** Epoch milliseconds of the primary authentication. */
  readonly authTime: number;
  /** Authentication methods references, e.g. `['pwd', 'otp']`. */
  readonly amr: readonly string[];
  /** Authentication context class reference, e.g. `'urn:sessionkit:aal2'`. */
  readonly acr?: string;
}

/** What the client looked like when it presented a token. Every field is optional. */
export interface ClientContext {
  readonly ip?: string;
  readonly userAgent?: string;
  readonly deviceId?: string;
  /** A TLS/HTTP fingerprint from the proxy, e.g. a JA4 string. */
  readonly fingerprint?: string;
}

/** The authorization the family carries into every access token it mints. */
export interface Grant {
  /** OAuth `client_id` claim. */
  readonly clientId: string;
  /** Space-separated OAuth scope, if any. */
  readonly scope?: string;
  /** App-specific claims, validated by the app's schema when issued. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/** One primary authentication (a login) and everything rotated from it. */
export interface Family {
  readonly id: FamilyId;
  readonly subject: string;
  readonly createdAt: number;
  /** Hard end of the family, epoch ms. Rotation never extends it. */
  readonly absoluteExpiresAt: number;
  readonly authContext: AuthContext;
  /** The client context at login; renewals are compared against it. */
  readonly client: ClientContext;
  readonly grant: Grant;
  readonly state: 'active' | 'revoked';
  readonly revokedAt?: number;
  readonly revokeReason?: RevokeReason;
}

/** One server-side session (the JWT `sid`) inside a family. */
export interface Session {
  readonly id: SessionId;
  readonly familyId: FamilyId;
  readonly subject: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** The IP seen at the last issue/renewal, for impossible-travel checks. */
  readonly lastIp?: string;
  /** The session ends if not renewed before this instant (epoch ms); renewal extends it. */
  readonly idleExpiresAt: number;
  /** Number of rotations so far; the current token carries the same generation. */
  readonly generation: number;
  readonly state: 'active' | 'ended' | 'revoked';
  readonly endedAt?: number;
  readonly revokeReason?: RevokeReason;
  /** The renewal lease, when one is held. */
  readonly lease?: { readonly id: string; readonly expiresAt: number };
}

/** One issued refresh token, found by the hash of the whole token. */
export interface RefreshTokenRecord {
  readonly hash: TokenHash;
  readonly sessionId: SessionId;
  readonly familyId: FamilyId;
  readonly generation: number;
  readonly issuedAt: number;
  readonly state: 'current' | 'rotated' | 'revoked';
  readonly rotatedAt?: number;
  readonly successorHash?: TokenHash;
  /**
   * The successor token sealed with AES-256-GCM under a key derived from *this* token's secret;
   * kept only until the reuse-grace window closes. Opaque base64url.
   */
  readonly sealedSuccessor?: string;
}

/** A token record with the session and family it belongs to. */
export interface TokenLookup {
  readonly token: RefreshTokenRecord;
  readonly session: Session;
  readonly family: Family;
}

/** A family with its sessions (no token material). */
export interface FamilyWithSessions {
  readonly family: Family;
  readonly sessions: readonly Session[];
}
