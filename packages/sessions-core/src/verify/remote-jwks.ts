/**
 * A key source over the authority's published JWKS, fetched over HTTPS and cached: fresh for `ttl`,
 * then served stale while one background refresh runs, then unusable. Unknown `kid`s trigger a
 * refetch at most once per `cooldown`, so a flood of forged tokens cannot turn into a flood of
 * requests; concurrent callers share one in-flight fetch. Each fetch is bounded in time and size,
 * only ever goes to the configured URL (never `jku`/`x5u`, never a redirect), and keeps the previous
 * cache when it fails. Optional bootstrap keys let a cold start verify without any fetch. Edge-safe:
 * global `fetch`, `AbortController`, `TextDecoder` and stream readers only, no Node built-ins.
 */

import {
  type DurationInput,
  describeInput,
  describeRange,
  formatDuration,
  parseDuration,
} from '../config/duration.js';
import { ConfigError, KeyError } from '../errors.js';
import { type Clock, systemClock } from '../runtime/clock.js';
import { canonicalJwk, MAX_KID_LENGTH, parseVerificationKey } from './jwk.js';
import { describeKid, type JwksInput, loadKeySet } from './local-jwks.js';
import type { KeyLookup, KeySource, VerificationKey } from './types.js';

/**
 * Why a fetch failed, or (`keys_skipped`) why a successful one dropped some entries. Stable strings
 * for alerts and logs.
 */
export type RemoteJwksErrorCode =
  /** The request did not complete: DNS, connection, TLS. */
  | 'network'
  /** Headers and body did not arrive within `timeout`. */
  | 'timeout'
  /** The server answered with a redirect, which is never followed. */
  | 'redirect'
  /** The server answered with a status other than 200. */
  | 'http_status'
  /** The body was larger than `maxBytes` (declared or streamed). */
  | 'too_large'
  /** The body was not UTF-8 JSON. */
  | 'invalid_body'
  /** The JSON was not a JWK Set (an object with a `keys` array). */
  | 'invalid_shape'
  /** No entry of the set was a usable public signature key. */
  | 'no_valid_keys'
  /** The fetch succeeded, but some entries were skipped (the message lists why). */
  | 'keys_skipped';

/** A fetch problem, as reported to `onError` and by `status()`. Never contains key material or the body. */
export interface RemoteJwksError {
  readonly code: RemoteJwksErrorCode;
  readonly message: string;
}

/**
 * Options of {@link createRemoteJwks}. Every duration is a number of seconds or a string such as
 * `'10m'` (`'500ms'`, `'10s'`, `'5m'`, `'12h'`, `'7d'`).
 */
export interface RemoteJwksOptions {
  /** How long a fetched set is fresh. Default `'10m'`; between `'1s'` and `'7d'`. */
  readonly ttl?: DurationInput;
  /**
   * How long after `ttl` the set is still served while a background refresh runs. Past
   * `ttl + staleWhileRevalidate` the keys are not used at all. Default `'1h'`; up to `'7d'`.
   */
  readonly staleWhileRevalidate?: DurationInput;
  /**
   * Least time between two fetches started by unknown `kid`s, stale hits or retries after a
   * failure. Default `'30s'`; between `'1s'` and `'1d'`.
   */
  readonly cooldown?: DurationInput;
  /** Limit on one fetch, headers and body together. Default `'5s'`; between `'100ms'` and `'1m'`. */
  readonly timeout?: DurationInput;
  /** Largest accepted body, in bytes. Default 64 KiB; between 1 KiB and 16 MiB. */
  readonly maxBytes?: number;
  /**
   * Keys to serve before the first successful fetch, checked as strictly as a local JWKS. They are
   * served (and a background refresh started) from the first lookup, and replaced by the first
   * successful fetch; until then they do not expire.
   */
  readonly bootstrap?: JwksInput;
  /** Time source for cache ages and cooldowns. Default: the system clock. */
  readonly clock?: Clock;
  /** The fetch implementation. Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** Extra request headers (for example an API key the JWKS endpoint wants). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Called for every failed fetch and every fetch that skipped entries. Must not throw (ignored if it does). */
  readonly onError?: (error: RemoteJwksError) => void;
}

/** A snapshot of a remote JWKS for health checks. Holds no key material. */
export interface RemoteJwksStatus {
  /** The JWKS URL without query or fragment. */
  readonly url: string;
  /** Where the keys come from: nothing yet, the bootstrap set, or a fetch. */
  readonly source: 'none' | 'bootstrap' | 'remote';
  /** Whether the cached keys are served: `fresh`, `stale` (served, refresh due) or `expired` (not served). */
  readonly freshness: 'fresh' | 'stale' | 'expired';
  /** Keys in the cache, served or not. */
  readonly keyCount: number;
  /** When the fetch that produced the current keys started (epoch ms); the cache's age counts from it. */
  readonly fetchedAt: number | undefined;
  /** When the latest fetch attempt started (epoch ms). */
  readonly lastAttemptAt: number | undefined;
  /** Why the latest finished attempt failed; `undefined` once a fetch succeeds. */
  readonly lastError: RemoteJwksError | undefined;
  /** Entries the latest successful fetch skipped. */
  readonly skippedKeys: number;
  /** Whether a fetch is in flight. */
  readonly refreshing: boolean;
}

/** A cached remote JWKS: a key source plus warm-up and health. */
export interface RemoteJwks extends KeySource {
  /**
   * Fetches now (joining a fetch already in flight), ignoring ttl and cooldown. Rejects with a
   * `KeyError` if the fetch fails; the previous keys stay in place.
   */
  refresh(): Promise<void>;
  /** Where the cache stands: age, last error, key count. */
  status(): RemoteJwksStatus;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const KIB = 1024;

const DEFAULTS = {
  ttl: 10 * MINUTE,
  staleWhileRevalidate: HOUR,
  cooldown: 30 * SECOND,
  timeout: 5 * SECOND,
  maxBytes: 64 * KIB,
} as const;

/** Bounds of each duration option, in milliseconds. */
const DURATION_RANGES = {
  ttl: { min: SECOND, max: 7 * DAY },
  staleWhileRevalidate: { min: 0, max: 7 * DAY },
  cooldown: { min: SECOND, max: DAY },
  timeout: { min: 100, max: MINUTE },
} as const;

const DURATION_FORMS = "a number of seconds or a string such as '10m'";

const MAX_BYTES_RANGE = { min: KIB, max: 16 * KIB * KIB } as const;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** How many skipped entries a report names before summarising the rest. */
const MAX_LISTED_SKIPS = 5;

type Outcome = { readonly ok: true } | { readonly ok: false; readonly error: RemoteJwksError };

/**
 * A key source over a remote JWKS. Validates every option when called (a `ConfigError` naming each
 * bad field; a `KeyError` for a bad bootstrap set) and fetches nothing until the first lookup.
 *
 * The URL must be `https:`; plain `http:` is accepted only for loopback hosts (`localhost`,
 * `127.0.0.1`, `[::1]`). Redirects are not followed (`redirect: 'manual'`, any 3xx is a failed
 * fetch): the set must come from the configured URL, and `'manual'` is the policy every runtime
 * supports, where `'error'` would also hide the status from the report.
 *
 * @example
 * ```ts
 * const jwks = createRemoteJwks('https://auth.example.com/.well-known/jwks.json', {
 *   ttl: '5m',
 *   cooldown: 30, // seconds
 *   onError: (error) => logger.warn({ code: error.code }, error.message),
 * });
 * await jwks.refresh(); // optional warm-up
 * const verifier = createAccessTokenVerifier({ issuer, audience, jwks });
 * ```
 */
export function createRemoteJwks(url: string | URL, options: RemoteJwksOptions = {}): RemoteJwks {
  const config = readOptions(url, options);
  const bootstrap =
    options.bootstrap === undefined ? undefined : loadKeySet(options.bootstrap, 'bootstrap JWKS');
  const { clock, ttl, staleWhileRevalidate, cooldown } = config;

  let keys: ReadonlyMap<string, VerificationKey> = bootstrap ?? new Map();
  let source: RemoteJwksStatus['source'] = bootstrap === undefined ? 'none' : 'bootstrap';
  let fetchedAt: number | undefined;
  let lastAttemptAt: number | undefined;
  let lastError: RemoteJwksError | undefined;
  let skippedKeys = 0;
  let inflight: Promise<Outcome> | undefined;

  function report(error: RemoteJwksError): void {
    if (config.onError === undefined) return;
    try {
      config.onError(error);
    } catch {
      // A failing reporter must not break key lookup.
    }
  }

  /** `fresh` and `stale` caches may be served; an `expired` one (or none) may not. */
  function freshness(now: number): 'fresh' | 'stale' | 'expired' {
    if (source === 'none') return 'expired';
    // Bootstrap keys are configuration: always served, always worth replacing.
    if (source === 'bootstrap' || fetchedAt === undefined) return 'stale';
    const age = now - fetchedAt;
    if (age < ttl) return 'fresh';
    return age < ttl + staleWhileRevalidate ? 'stale' : 'expired';
  }

  function cooldownElapsed(now: number): boolean {
    return lastAttemptAt === undefined || now - lastAttemptAt >= cooldown;
  }

  /** Starts a fetch, or joins the one in flight. The promise never rejects. */
  function startFetch(): Promise<Outcome> {
    if (inflight !== undefined) return inflight;
    const startedAt = clock.now();
    lastAttemptAt = startedAt;
    const run = (async (): Promise<Outcome> => {
      let outcome: Outcome;
      try {
        const body = await download(config);
        outcome = body.ok ? install(body.json, startedAt) : body;
      } catch (error) {
        // download() maps every fetch failure itself; this is the net under an unexpected fault.
        outcome = failure(config, 'network', `failed unexpectedly (${describeError(error)})`);
      }
      if (outcome.ok) {
        lastError = undefined;
      } else {
        lastError = outcome.error;
        report(outcome.error);
      }
      inflight = undefined;
      return outcome;
    })();
    inflight = run;
    return run;
  }

  /** Replaces the cache with a fetched set, keeping the old object for every unchanged key. */
  function install(json: unknown, startedAt: number): Outcome {
    const entries = (json as { keys?: unknown } | null)?.keys;
    if (typeof json !== 'object' || json === null || Array.isArray(json) || !Array.isArray(entries)) {
      return failure(config, 'invalid_shape', 'response is not a JWK Set (an object with a "keys" array)');
    }
    const next = new Map<string, VerificationKey>();
    const ambiguous = new Set<string>();
    const skipped: string[] = [];
    for (let index = 0; index < entries.length; index++) {
      const entry: unknown = entries[index];
      const parsed = parseVerificationKey(entry);
      if ('reason' in parsed) {
        skipped.push(`#${index}${describeKid(entry)}: ${parsed.reason}`);
        continue;
      }
      const { kid } = parsed.key;
      if (next.has(kid) || ambiguous.has(kid)) {
        // Two keys under one kid: neither can be chosen safely, so both are dropped.
        ambiguous.add(kid);
        skipped.push(`#${index}${describeKid(entry)}: duplicate kid, every key with it is dropped`);
        continue;
      }
      const previous = keys.get(kid);
      next.set(
        kid,
        previous !== undefined && canonicalJwk(previous) === canonicalJwk(parsed.key) ? previous : parsed.key,
      );
    }
    for (const kid of ambiguous) next.delete(kid);
    const summary = summarise(skipped, entries.length);
    if (next.size === 0) {
      return failure(
        config,
        'no_valid_keys',
        `no usable key among ${entries.length}${summary ? `: ${summary}` : ''}`,
      );
    }
    if (summary) report({ code: 'keys_skipped', message: `JWKS ${config.displayUrl}: ${summary}` });
    keys = next;
    source = 'remote';
    fetchedAt = startedAt;
    skippedKeys = skipped.length;
    return { ok: true };
  }

  function lookupAfterFetch(kid: string, outcome: Outcome): KeyLookup {
    if (freshness(clock.now()) === 'expired') return 'jwks_unavailable';
    return keys.get(kid) ?? (outcome.ok ? 'unknown_key' : 'jwks_unavailable');
  }

  function peek(kid: string): VerificationKey | undefined {
    if (freshness(clock.now()) === 'expired') return undefined;
    return keys.get(kid);
  }

  function resolve(kid: string): KeyLookup | Promise<KeyLookup> {
    // No key can have such a kid, so it is not worth a fetch.
    if (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH) return 'unknown_key';
    const now = clock.now();
    const state = freshness(now);
    if (state === 'expired') {
      // Nothing usable: wait for a fetch, unless one just failed (then failing fast spares the server).
      if (inflight === undefined && lastError !== undefined && !cooldownElapsed(now))
        return 'jwks_unavailable';
      return startFetch().then((outcome) => lookupAfterFetch(kid, outcome));
    }
    if (state === 'stale' && inflight === undefined && cooldownElapsed(now)) void startFetch();
    const key = keys.get(kid);
    if (key !== undefined) return key;
    if (inflight !== undefined || cooldownElapsed(now)) {
      return startFetch().then((outcome) => lookupAfterFetch(kid, outcome));
    }
    // Throttled. If the latest fetch failed, the set may be outdated: say so rather than "unknown".
    return lastError === undefined ? 'unknown_key' : 'jwks_unavailable';
  }

  async function refresh(): Promise<void> {
    const outcome = await startFetch();
    if (!outcome.ok) throw new KeyError(outcome.error.message, { cause: outcome.error });
  }

  function status(): RemoteJwksStatus {
    return Object.freeze({
      url: config.displayUrl,
      source,
      freshness: freshness(clock.now()),
      keyCount: keys.size,
      fetchedAt,
      lastAttemptAt,
      lastError,
      skippedKeys,
      refreshing: inflight !== undefined,
    });
  }

  return Object.freeze({ peek, resolve, refresh, status });
}

interface Config {
  readonly url: URL;
  readonly displayUrl: string;
  readonly ttl: number;
  readonly staleWhileRevalidate: number;
  readonly cooldown: number;
  readonly timeout: number;
  readonly maxBytes: number;
  readonly clock: Clock;
  readonly fetch: typeof fetch;
  readonly headers: readonly (readonly [string, string])[];
  readonly onError: ((error: RemoteJwksError) => void) | undefined;
}

function readOptions(input: unknown, options: unknown): Config {
  const issues: { path: string; message: string }[] = [];
  const issue = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(
      `Invalid remote JWKS options: options must be an object (got ${describeInput(options)})`,
      [{ path: '', message: 'must be an object' }],
    );
  }
  const given = options as Record<string, unknown>;

  const url = readUrl(input, issue);
  const duration = (field: keyof typeof DURATION_RANGES): number => {
    const value = given[field];
    if (value === undefined || value === null) return DEFAULTS[field];
    const range = DURATION_RANGES[field];
    const expected = `${field} must be a duration ${describeRange(range)}: ${DURATION_FORMS}`;
    const ms = parseDuration(value);
    if (ms === null) {
      issue(field, `${expected} (got ${describeInput(value)})`);
      return DEFAULTS[field];
    }
    if (ms < range.min || ms > range.max) {
      issue(field, `${expected} (got ${formatDuration(ms)})`);
    }
    return ms;
  };
  const ttl = duration('ttl');
  const staleWhileRevalidate = duration('staleWhileRevalidate');
  const cooldown = duration('cooldown');
  const timeout = duration('timeout');

  const maxBytes = given.maxBytes ?? DEFAULTS.maxBytes;
  if (
    typeof maxBytes !== 'number' ||
    !Number.isInteger(maxBytes) ||
    maxBytes < MAX_BYTES_RANGE.min ||
    maxBytes > MAX_BYTES_RANGE.max
  ) {
    issue(
      'maxBytes',
      `maxBytes must be a whole number of bytes between ${MAX_BYTES_RANGE.min} and ${MAX_BYTES_RANGE.max} (got ${describeInput(maxBytes)})`,
    );
  }

  const clock = given.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof (clock as Clock).now !== 'function') {
    issue('clock', `clock must have a now() function (got ${describeInput(clock)})`);
  }
  const fetchOption = given.fetch;
  if (fetchOption !== undefined && typeof fetchOption !== 'function') {
    issue('fetch', `fetch must be a function (got ${describeInput(fetchOption)})`);
  }
  if (fetchOption === undefined && typeof globalThis.fetch !== 'function') {
    issue('fetch', 'this runtime has no global fetch; pass one as the fetch option');
  }
  const onError = given.onError;
  if (onError !== undefined && typeof onError !== 'function') {
    issue('onError', `onError must be a function (got ${describeInput(onError)})`);
  }
  const headers = readHeaders(given.headers, issue);

  if (issues.length > 0 || url === undefined) {
    throw new ConfigError(
      `Invalid remote JWKS options: ${issues.map((each) => each.message).join('; ')}`,
      issues,
    );
  }
  return {
    url,
    displayUrl: `${url.origin}${url.pathname}`,
    ttl,
    staleWhileRevalidate,
    cooldown,
    timeout,
    maxBytes: maxBytes as number,
    clock: clock as Clock,
    // Called through a wrapper so the global is looked up per call (and never with a foreign `this`).
    fetch:
      (fetchOption as typeof fetch | undefined) ?? ((resource, init) => globalThis.fetch(resource, init)),
    headers,
    onError: onError as ((error: RemoteJwksError) => void) | undefined,
  };
}

function readUrl(input: unknown, issue: (path: string, message: string) => void): URL | undefined {
  const text = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
  if (text === undefined) {
    issue('url', `url must be a string or URL (got ${describeInput(input)})`);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    issue('url', `url is not an absolute URL (got ${describeInput(text)})`);
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    issue('url', 'url must not contain credentials; pass them in headers');
    return undefined;
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url;
  issue(
    'url',
    url.protocol === 'http:'
      ? `url must use https (plain http is allowed only for localhost, 127.0.0.1 and [::1]; got host ${describeInput(url.hostname)})`
      : `url must use https (got ${describeInput(url.protocol)})`,
  );
  return undefined;
}

function readHeaders(
  value: unknown,
  issue: (path: string, message: string) => void,
): readonly (readonly [string, string])[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issue('headers', `headers must be an object of strings (got ${describeInput(value)})`);
    return [];
  }
  const entries = Object.entries(value);
  for (const [name, header] of entries) {
    if (typeof header !== 'string') {
      issue(`headers.${name}`, `headers.${name} must be a string (got ${describeInput(header)})`);
      return [];
    }
  }
  try {
    new Headers(entries as [string, string][]);
  } catch {
    issue('headers', 'headers contain an invalid header name or value');
    return [];
  }
  return Object.freeze(entries.map(([name, header]) => Object.freeze([name, header as string] as const)));
}

type Download =
  | { readonly ok: true; readonly json: unknown }
  | { readonly ok: false; readonly error: RemoteJwksError };

/** One bounded GET of the configured URL. Never rejects: every failure becomes a `RemoteJwksError`. */
async function download(config: Config): Promise<Download> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.timeout);
  let response: Response | undefined;
  try {
    const headers = new Headers(config.headers as [string, string][]);
    if (!headers.has('accept')) headers.set('accept', 'application/jwk-set+json, application/json');
    response = await config.fetch(config.url, {
      method: 'GET',
      headers,
      redirect: 'manual',
      signal: controller.signal,
    });
    const status = response.status;
    if (response.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
      return failure(config, 'redirect', `redirect (HTTP ${status}) not followed`);
    }
    if (status !== 200) return failure(config, 'http_status', `HTTP ${status}`);
    const declared = response.headers.get('content-length');
    if (declared !== null && Number(declared) > config.maxBytes) {
      return failure(
        config,
        'too_large',
        `body declared as ${declared} bytes, over the ${config.maxBytes}-byte limit`,
      );
    }
    const bytes = await readBounded(response.body, config.maxBytes, controller.signal);
    if (bytes === undefined) {
      return failure(config, 'too_large', `body over the ${config.maxBytes}-byte limit`);
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      return failure(config, 'invalid_body', 'response is not UTF-8 JSON');
    }
    return { ok: true, json };
  } catch (error) {
    if (timedOut) {
      return failure(config, 'timeout', `no complete answer within ${formatDuration(config.timeout)}`);
    }
    return failure(config, 'network', `request failed (${describeError(error)})`);
  } finally {
    clearTimeout(timer);
    // Releases an unread or partly read body (and its connection); harmless once the body is consumed.
    controller.abort();
  }
}

/**
 * Reads a body stream up to `limit` bytes; `undefined` once it goes past. Each read also races the
 * abort signal, so the timeout holds even with a `fetch` whose streams ignore it.
 */
async function readBounded(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  signal: AbortSignal,
): Promise<Uint8Array | undefined> {
  if (body === null) return new Uint8Array(0);
  const reader = body.getReader();
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), aborted]);
      if (done) break;
      total += value.byteLength;
      if (total > limit) return undefined;
      chunks.push(value);
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function failure(
  config: Config,
  code: RemoteJwksErrorCode,
  detail: string,
): { ok: false; error: RemoteJwksError } {
  return { ok: false, error: Object.freeze({ code, message: `JWKS ${config.displayUrl}: ${detail}` }) };
}

/** Lists skipped entries for a report, naming at most a few. Empty when nothing was skipped. */
function summarise(skipped: readonly string[], total: number): string {
  if (skipped.length === 0) return '';
  const listed = skipped.slice(0, MAX_LISTED_SKIPS).join('; ');
  const rest = skipped.length - MAX_LISTED_SKIPS;
  return `skipped ${skipped.length} of ${total} keys: ${listed}${rest > 0 ? `; and ${rest} more` : ''}`;
}

/** A short description of a fetch error: its name, message and (undici) cause code, cut to length. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return describeInput(error);
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? `, ${cause.code}` : '';
  const text = `${error.name}: ${error.message}${code}`;
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
