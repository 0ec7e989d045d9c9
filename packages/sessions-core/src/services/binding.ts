/**
 * Hijack signals (DESIGN §4 "Binding"): on renewal, the presented client context is compared with
 * what was recorded at login (fingerprint, user agent) and at the last renewal (IP, location).
 * Each signal that fires gets a confidence and the policy configured for it; the caller applies
 * the strictest policy. Signals whose policy is `allow` are not even evaluated (no geo lookup).
 * The app's geo lookup is untrusted: if it throws, rejects or answers with something that is not a
 * location, the location is unknown and renewal proceeds without the impossible-travel signal.
 */

import type { BindingPolicy, BindingSignal } from '../config/types.js';
import type { ClientContext, Family, Session } from '../domain/types.js';
import type { GeoLookup, GeoPoint, ServiceContext } from './context.js';
import type { BindingAlert } from './types.js';

const SEVERITY: Record<BindingPolicy, number> = { allow: 0, flag: 1, reject: 2, revoke: 3 };

/** Evaluates every binding signal with a policy other than `allow`; returns those that fired. */
export async function evaluateBinding(
  ctx: ServiceContext,
  input: { family: Family; session: Session; presented: ClientContext; now: number },
): Promise<BindingAlert[]> {
  const { binding } = ctx.config;
  const { family, session, presented } = input;
  const alerts: BindingAlert[] = [];
  const fire = (signal: BindingSignal, confidence: number, action: BindingPolicy) => {
    alerts.push({ signal, confidence: Math.round(confidence * 100) / 100, action });
  };

  const issuedFingerprint = family.client.fingerprint;
  if (
    binding.fingerprint !== 'allow' &&
    issuedFingerprint !== undefined &&
    presented.fingerprint !== issuedFingerprint
  ) {
    fire('fingerprint', presented.fingerprint === undefined ? 0.5 : 0.9, binding.fingerprint);
  }

  const issuedAgent = family.client.userAgent;
  if (binding.userAgent !== 'allow' && issuedAgent !== undefined && presented.userAgent !== issuedAgent) {
    fire('user_agent', presented.userAgent === undefined ? 0.4 : 0.6, binding.userAgent);
  }

  const previousIp = session.lastIp ?? family.client.ip;
  const ipChanged = previousIp !== undefined && presented.ip !== undefined && presented.ip !== previousIp;
  if (binding.ip !== 'allow' && ipChanged) fire('ip', 0.3, binding.ip);

  if (binding.impossibleTravel !== 'allow' && ipChanged && ctx.geoLookup !== undefined) {
    const lookup = ctx.geoLookup;
    const [from, to] = await Promise.all([
      locate(lookup, previousIp),
      locate(lookup, presented.ip as string),
    ]);
    if (from && to) {
      const km = distanceKm(from, to);
      const hours = Math.max(input.now - session.lastSeenAt, 1000) / 3_600_000;
      const speed = km / hours;
      if (speed > binding.maxTravelSpeedKmh) {
        fire(
          'impossible_travel',
          0.5 + 0.5 * (1 - binding.maxTravelSpeedKmh / speed),
          binding.impossibleTravel,
        );
      }
    }
  }
  return alerts;
}

/** The strictest action among `alerts` (`allow` when none fired). */
export function strictestAction(alerts: readonly BindingAlert[]): BindingPolicy {
  let strictest: BindingPolicy = 'allow';
  for (const alert of alerts) if (SEVERITY[alert.action] > SEVERITY[strictest]) strictest = alert.action;
  return strictest;
}

/** The lookup's answer when it is a valid location; `null` (unknown) when it fails or answers garbage. */
async function locate(lookup: GeoLookup, ip: string): Promise<GeoPoint | null> {
  try {
    const point: unknown = await lookup(ip);
    return isGeoPoint(point) ? { lat: point.lat, lon: point.lon } : null;
  } catch {
    // A broken geo service must not lock users out: the location is simply unknown.
    return null;
  }
}

function isGeoPoint(value: unknown): value is GeoPoint {
  if (typeof value !== 'object' || value === null) return false;
  const { lat, lon } = value as Record<string, unknown>;
  return typeof lat === 'number' && typeof lon === 'number' && Math.abs(lat) <= 90 && Math.abs(lon) <= 180;
}

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)));
}
