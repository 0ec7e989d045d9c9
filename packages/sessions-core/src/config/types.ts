/**
 * The resolved configuration every service reads: all durations in milliseconds, every default
 * applied, every cross-field rule already checked by `parseSessionConfig`.
 */

import type { SessionLimitPolicy } from '../repository/repository.js';

/** What to do when a binding signal fires on renewal. */
export type BindingPolicy = 'allow' | 'flag' | 'reject' | 'revoke';

/** The binding signals compared on every renewal. */
export type BindingSignal = 'fingerprint' | 'ip' | 'user_agent' | 'impossible_travel';

/** Per-signal binding policy. `ip: 'allow'` is lenient mode; anything else is strict mode. */
export interface BindingConfig {
  readonly fingerprint: BindingPolicy;
  readonly ip: BindingPolicy;
  readonly userAgent: BindingPolicy;
  readonly impossibleTravel: BindingPolicy;
  /** Speed above which two sightings count as impossible travel, km/h. */
  readonly maxTravelSpeedKmh: number;
}

/** NIST SP 800-63B-4 assurance level presets. */
export type AssurancePreset = 'aal1' | 'aal2' | 'aal3';

/** Fully resolved configuration (milliseconds throughout). */
export interface SessionConfig {
  readonly issuer: string;
  readonly audience: readonly [string, ...string[]];
  readonly preset?: AssurancePreset;
  readonly accessTokenTtlMs: number;
  readonly sessionIdleTtlMs: number;
  readonly familyAbsoluteTtlMs: number;
  readonly reuseGraceMs: number;
  readonly leaseTtlMs: number;
  readonly leaseWaitMs: number;
  readonly maxSessionsPerSubject?: { readonly max: number; readonly policy: SessionLimitPolicy };
  readonly expiryWarningWindowMs: number;
  readonly clockSkewMs: number;
  readonly binding: BindingConfig;
}
