/**
 * The NIST SP 800-63B-4 assurance presets `aal1`, `aal2` and `aal3`, and the base binding policy they
 * start from. A preset caps the family absolute lifetime (SP 800-63B-4's "reauthenticate at least once
 * per …, regardless of user activity") and the session idle lifetime (its inactivity timeout), supplies
 * defaults for both, and hardens the binding policy at aal3. `parseSessionConfig` applies them; this
 * file only holds the numbers and where they come from.
 */

import type { AssurancePreset, BindingConfig } from './types.js';

/** The limits and defaults one preset imposes, in milliseconds. */
export interface PresetLimits {
  /** Family absolute lifetime: the overall reauthentication interval. */
  readonly familyAbsoluteTtlMs: { readonly max: number; readonly default: number };
  /** Session idle lifetime: the inactivity timeout. */
  readonly sessionIdleTtlMs: { readonly max: number; readonly default: number };
  /** Binding policy used when the config sets no `binding` field (explicit fields still override). */
  readonly binding: BindingConfig;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * Binding policy without a preset: flag fingerprint and user-agent changes and impossible travel for the
 * application to look at, and allow IP changes (lenient mode — mobile clients change IP constantly).
 */
export const BASE_BINDING_DEFAULTS: Readonly<BindingConfig> = Object.freeze({
  fingerprint: 'flag',
  ip: 'allow',
  userAgent: 'flag',
  impossibleTravel: 'flag',
  maxTravelSpeedKmh: 1000,
});

/**
 * Limits per assurance level, from NIST SP 800-63B-4 (Digital Identity Guidelines: Authentication and
 * Authenticator Management, 2025), the "Reauthentication" subsection of each AAL in §2:
 *
 * - **aal1** (§2.1.3): reauthenticate at least once per 30 days during an extended usage session,
 *   regardless of activity; an inactivity timeout is optional, so the idle default equals the overall
 *   limit.
 * - **aal2** (§2.2.3): reauthenticate at least once per 24 hours, and after any period of inactivity of
 *   1 hour or longer.
 * - **aal3** (§2.3.3): reauthenticate at least once per 12 hours, and after any period of inactivity of
 *   15 minutes or longer.
 *
 * In sessionkit terms the overall interval is the family absolute lifetime (rotation never extends it)
 * and the inactivity timeout is the session idle lifetime. The aal3 binding defaults are sessionkit's
 * choice, not NIST's: at that level a changed device fingerprint or impossible travel ends the family,
 * a changed user agent fails the renewal, and an IP change is flagged.
 *
 * @example
 * ```ts
 * ASSURANCE_PRESETS.aal2.sessionIdleTtlMs.max; // 3_600_000
 * ```
 */
export const ASSURANCE_PRESETS: Readonly<Record<AssurancePreset, PresetLimits>> = Object.freeze({
  aal1: Object.freeze({
    familyAbsoluteTtlMs: Object.freeze({ max: 30 * DAY, default: 30 * DAY }),
    sessionIdleTtlMs: Object.freeze({ max: 30 * DAY, default: 30 * DAY }),
    binding: BASE_BINDING_DEFAULTS,
  }),
  aal2: Object.freeze({
    familyAbsoluteTtlMs: Object.freeze({ max: 24 * HOUR, default: 24 * HOUR }),
    sessionIdleTtlMs: Object.freeze({ max: HOUR, default: HOUR }),
    binding: BASE_BINDING_DEFAULTS,
  }),
  aal3: Object.freeze({
    familyAbsoluteTtlMs: Object.freeze({ max: 12 * HOUR, default: 12 * HOUR }),
    sessionIdleTtlMs: Object.freeze({ max: 15 * MINUTE, default: 15 * MINUTE }),
    binding: Object.freeze({
      fingerprint: 'revoke',
      ip: 'flag',
      userAgent: 'reject',
      impossibleTravel: 'revoke',
      maxTravelSpeedKmh: 1000,
    }),
  }),
});
