/**
 * The Lua scripts: one per decision, each touching exactly one key — a family hash (see keys.ts) —
 * so it is atomic on a standalone server and legal on a cluster. Records inside the hash are
 * MessagePack maps the scripts read and rewrite with Redis's built-in `cmsgpack` (the Node side
 * uses msgpackr; both speak plain MessagePack maps). Family and session *metadata* (`fm`, `fa`,
 * `sm:<sid>`) are opaque codec blobs, possibly encrypted, that scripts only copy.
 *
 * Fields of a family hash:
 * - `f`          family core  {st, ca, ax, ra?, rr?, ss = [session ids]}
 * - `sl`         hashes of the records still holding a sealed successor, comma-separated (for the
 *                sweep; its own field so a renewal neither repacks nor returns a growing list)
 * - `fm`, `fa`   family metadata {sub, cl, gr} and its auth context (codec blobs)
 * - `s:<sid>`    session core {st, ca, ls, ix, g, ea?, rr?, li?, le?, ct = current token hash}
 * - `sm:<sid>`   session metadata {ip} (codec blob), present once the session has a last IP
 * - `t:<hash>`   refresh-token record {sid, g, ia, st, ra?, sh?, ss?}
 *
 * Scripts are sent with EVALSHA and fall back to EVAL on NOSCRIPT (after a restart, a failover to a
 * replica that never saw the script, or `SCRIPT FLUSH`); EVAL caches the script again.
 */

import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** Shared helpers, prepended to every script. */
const PRELUDE = `
local unpack_, pack_ = cmsgpack.unpack, cmsgpack.pack
local key = KEYS[1]
local function live(f, s, now)
  return f.st == 'active' and f.ax > now and s.st == 'active' and s.ix > now
end
local function too_late(deadline)
  -- A client may deliver a command long after the caller gave up on it (ioredis queues commands
  -- while reconnecting). A rotation applied then would turn the caller's retry into a replay, so a
  -- decision that arrives after its deadline (server clock) writes nothing.
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(deadline)
end
local function revoke_current(s, reason, now)
  -- Revokes a session and its current token in place (caller writes the session back).
  s.st = 'revoked'; s.ea = now; s.rr = reason; s.li = nil; s.le = nil
  if s.ct then
    local raw = redis.call('HGET', key, 't:' .. s.ct)
    if raw then
      local t = unpack_(raw)
      if t.st == 'current' then t.st = 'revoked'; redis.call('HSET', key, 't:' .. s.ct, pack_(t)) end
    end
  end
end
`;

const SOURCES = {
  /** ARGV: ttlMs, f, fm, fa, sid, s, sm|'' , hash, t → 1, or error SK_EXISTS. */
  create: `
if redis.call('EXISTS', key) == 1 then return redis.error_reply('SK_EXISTS') end
redis.call('HSET', key, 'f', ARGV[2], 'fm', ARGV[3], 'fa', ARGV[4], 's:' .. ARGV[5], ARGV[6], 't:' .. ARGV[8], ARGV[9])
if ARGV[7] ~= '' then redis.call('HSET', key, 'sm:' .. ARGV[5], ARGV[7]) end
redis.call('PEXPIRE', key, ARGV[1])
return 1`,

  /** ARGV: hash → nil | {t, f, fm, fa, s, sm}. */
  find: `
local t = redis.call('HGET', key, 't:' .. ARGV[1])
if not t then return nil end
local sid = unpack_(t).sid
local v = redis.call('HMGET', key, 'f', 'fm', 'fa', 's:' .. sid, 'sm:' .. sid)
return {t, v[1], v[2], v[3], v[4], v[5]}`,

  /** ARGV: sid → nil | {f, fm, fa, s, sm}. */
  findSession: `
local v = redis.call('HMGET', key, 'f', 'fm', 'fa', 's:' .. ARGV[1], 'sm:' .. ARGV[1])
if not v[1] or not v[4] then return nil end
return v`,

  /** → nil | {f, fm, fa, s1, sm1, s2, sm2, …}. */
  findFamily: `
local raw = redis.call('HGET', key, 'f')
if not raw then return nil end
local out = redis.call('HMGET', key, 'f', 'fm', 'fa')
for _, sid in ipairs(unpack_(raw).ss) do
  local v = redis.call('HMGET', key, 's:' .. sid, 'sm:' .. sid)
  out[#out + 1] = v[1]; out[#out + 1] = v[2]
end
return out`,

  /**
   * The one-round-trip renewal. ARGV: hash, successorHash, sealed, idleTtlMs, now, sm|'', deadline →
   * {0} unknown | {0, t, f, fm, fa, s, sm} not rotated | {1, t, f, fm, fa, s, sm, newSession}.
   */
  renewCurrent: `
local t = redis.call('HGET', key, 't:' .. ARGV[1])
if not t then return {0} end
local tok = unpack_(t)
local sid = tok.sid
local v = redis.call('HMGET', key, 'f', 'fm', 'fa', 's:' .. sid, 'sm:' .. sid)
if not v[1] or not v[4] then return {0} end
local f, s = unpack_(v[1]), unpack_(v[4])
local now = tonumber(ARGV[5])
if tok.st ~= 'current' or tok.g ~= s.g or (s.le and s.le > now) or not live(f, s, now) then
  return {0, t, v[1], v[2], v[3], v[4], v[5]}
end
if too_late(ARGV[7]) then return redis.error_reply('SK_LATE') end
if redis.call('HEXISTS', key, 't:' .. ARGV[2]) == 1 then return redis.error_reply('SK_EXISTS') end
tok.st = 'rotated'; tok.ra = now; tok.sh = ARGV[2]; tok.ss = ARGV[3]
local successor = {sid = sid, g = s.g + 1, ia = now, st = 'current'}
s.g = s.g + 1; s.ls = now; s.ix = math.min(now + tonumber(ARGV[4]), f.ax); s.li = nil; s.le = nil; s.ct = ARGV[2]
local sl = redis.call('HGET', key, 'sl')
local ns = pack_(s)
redis.call('HSET', key, 't:' .. ARGV[1], pack_(tok), 't:' .. ARGV[2], pack_(successor), 's:' .. sid, ns,
  'sl', sl and (sl .. ',' .. ARGV[1]) or ARGV[1])
if ARGV[6] ~= '' then redis.call('HSET', key, 'sm:' .. sid, ARGV[6]) end
return {1, t, v[1], v[2], v[3], v[4], v[5], ns}`,

  /**
   * Compare-and-swap rotation. ARGV: sid, expectedHash, expectedGeneration, successorHash,
   * successorGeneration, issuedAt, sealed, idleExpiresAt, now, sm|'', deadline →
   * {'conflict'} | {'inactive'} | {'rotated', newSession, sm}.
   */
  rotate: `
local sid, now = ARGV[1], tonumber(ARGV[9])
local v = redis.call('HMGET', key, 'f', 's:' .. sid, 't:' .. ARGV[2])
if not v[1] or not v[2] or not v[3] then return {'conflict'} end
local f, s, tok = unpack_(v[1]), unpack_(v[2]), unpack_(v[3])
if tok.sid ~= sid then return {'conflict'} end
if not live(f, s, now) then return {'inactive'} end
local expected = tonumber(ARGV[3])
if tok.st ~= 'current' or tok.g ~= expected or s.g ~= expected then return {'conflict'} end
if too_late(ARGV[11]) then return redis.error_reply('SK_LATE') end
if redis.call('HEXISTS', key, 't:' .. ARGV[4]) == 1 then return redis.error_reply('SK_EXISTS') end
tok.st = 'rotated'; tok.ra = now; tok.sh = ARGV[4]; tok.ss = ARGV[7]
local successor = {sid = sid, g = tonumber(ARGV[5]), ia = tonumber(ARGV[6]), st = 'current'}
s.g = expected + 1; s.ls = now; s.ix = tonumber(ARGV[8]); s.li = nil; s.le = nil; s.ct = ARGV[4]
local sl = redis.call('HGET', key, 'sl')
local ns = pack_(s)
redis.call('HSET', key, 't:' .. ARGV[2], pack_(tok), 't:' .. ARGV[4], pack_(successor), 's:' .. sid, ns,
  'sl', sl and (sl .. ',' .. ARGV[2]) or ARGV[2])
if ARGV[10] ~= '' then redis.call('HSET', key, 'sm:' .. sid, ARGV[10]) end
return {'rotated', ns, redis.call('HGET', key, 'sm:' .. sid)}`,

  /** ARGV: sid, leaseId, ttlMs, now → {'unavailable'} | {'acquired'|'held_by_other', expiresAt}. */
  acquireLease: `
local raw = redis.call('HGET', key, 's:' .. ARGV[1])
if not raw then return {'unavailable'} end
local s = unpack_(raw)
if s.st ~= 'active' then return {'unavailable'} end
local now = tonumber(ARGV[4])
if s.li and s.le > now and s.li ~= ARGV[2] then return {'held_by_other', tostring(s.le)} end
s.li = ARGV[2]; s.le = now + tonumber(ARGV[3])
redis.call('HSET', key, 's:' .. ARGV[1], pack_(s))
return {'acquired', tostring(s.le)}`,

  /** ARGV: sid, leaseId → 1 | 0. */
  releaseLease: `
local raw = redis.call('HGET', key, 's:' .. ARGV[1])
if not raw then return 0 end
local s = unpack_(raw)
if s.li ~= ARGV[2] then return 0 end
s.li = nil; s.le = nil
redis.call('HSET', key, 's:' .. ARGV[1], pack_(s))
return 1`,

  /** ARGV: oldSid, now, newSid, s, sm|'', hash, t, fa → 'replaced' | 'inactive'. */
  replaceSession: `
local now = tonumber(ARGV[2])
local v = redis.call('HMGET', key, 'f', 's:' .. ARGV[1])
if not v[1] or not v[2] then return 'inactive' end
local f, s = unpack_(v[1]), unpack_(v[2])
if not live(f, s, now) then return 'inactive' end
if redis.call('HEXISTS', key, 's:' .. ARGV[3]) == 1 or redis.call('HEXISTS', key, 't:' .. ARGV[6]) == 1 then
  return redis.error_reply('SK_EXISTS')
end
revoke_current(s, nil, now)
s.st = 'ended'; s.rr = nil
local ss = f.ss; ss[#ss + 1] = ARGV[3]; f.ss = ss
redis.call('HSET', key, 's:' .. ARGV[1], pack_(s), 'f', pack_(f), 'fa', ARGV[8], 's:' .. ARGV[3], ARGV[4], 't:' .. ARGV[6], ARGV[7])
if ARGV[5] ~= '' then redis.call('HSET', key, 'sm:' .. ARGV[3], ARGV[5]) end
return 'replaced'`,

  /** ARGV: sid, reason, now → 1 if revoked now, else 0. */
  revokeSession: `
local raw = redis.call('HGET', key, 's:' .. ARGV[1])
if not raw or not redis.call('HGET', key, 'f') then return 0 end
local s = unpack_(raw)
if s.st ~= 'active' then return 0 end
revoke_current(s, ARGV[2], tonumber(ARGV[3]))
redis.call('HSET', key, 's:' .. ARGV[1], pack_(s))
return 1`,

  /** ARGV: reason, now → nil (nothing changed) | {'revoked', {sid…}} revoked now (possibly empty). */
  revokeFamily: `
local raw = redis.call('HGET', key, 'f')
if not raw then return nil end
local f = unpack_(raw)
if f.st ~= 'active' then return nil end
local now = tonumber(ARGV[2])
f.st = 'revoked'; f.ra = now; f.rr = ARGV[1]
redis.call('HSET', key, 'f', pack_(f))
local revoked = {}
for _, sid in ipairs(f.ss) do
  local sraw = redis.call('HGET', key, 's:' .. sid)
  if sraw then
    local s = unpack_(sraw)
    if s.st == 'active' then
      revoke_current(s, ARGV[1], now)
      redis.call('HSET', key, 's:' .. sid, pack_(s))
      revoked[#revoked + 1] = sid
    end
  end
end
return {'revoked', revoked}`,

  /** ARGV: sid, idleExpiresAt, now → 1 | 0. */
  touch: `
local v = redis.call('HMGET', key, 'f', 's:' .. ARGV[1])
if not v[1] or not v[2] then return 0 end
local f, s = unpack_(v[1]), unpack_(v[2])
local now = tonumber(ARGV[3])
if not live(f, s, now) then return 0 end
s.ls = now; s.ix = tonumber(ARGV[2])
redis.call('HSET', key, 's:' .. ARGV[1], pack_(s))
return 1`,

  /**
   * Cleanup of one family. ARGV: now, sealedBefore →
   * {1, fm, sid…} deleted (the caller drops its index keys) | {0} kept (old sealed successors dropped).
   */
  sweep: `
local raw = redis.call('HGET', key, 'f')
if not raw then return {0} end
local f = unpack_(raw)
local now, sealedBefore = tonumber(ARGV[1]), tonumber(ARGV[2])
local latest = nil
for _, sid in ipairs(f.ss) do
  local sraw = redis.call('HGET', key, 's:' .. sid)
  if sraw then
    local ix = unpack_(sraw).ix
    if latest == nil or ix > latest then latest = ix end
  end
end
if f.ax <= now or latest == nil or latest <= now then
  local out = {1, redis.call('HGET', key, 'fm')}
  for _, sid in ipairs(f.ss) do out[#out + 1] = sid end
  redis.call('DEL', key)
  return out
end
local sl = redis.call('HGET', key, 'sl')
if not sl then return {0} end
local kept = {}
for hash in string.gmatch(sl, '[^,]+') do
  local traw = redis.call('HGET', key, 't:' .. hash)
  local t = traw and unpack_(traw)
  if t and t.ss and t.ra and t.ra <= sealedBefore then
    t.ss = nil
    redis.call('HSET', key, 't:' .. hash, pack_(t))
  elseif t and t.ss then
    kept[#kept + 1] = hash
  end
end
if #kept == 0 then redis.call('HDEL', key, 'sl') else redis.call('HSET', key, 'sl', table.concat(kept, ',')) end
return {0}`,

  /** → {ttlMs} of the family hash (-2 when it does not exist). */
  ttl: `return redis.call('PTTL', key)`,

  /** Re-seals one metadata field if nobody changed it meanwhile. ARGV: field, old, new → 1 | 0. */
  reseal: `
if redis.call('HGET', key, ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', key, ARGV[1], ARGV[3])
return 1`,

  /** On a registry key: ZADD and stretch its TTL to cover the family. ARGV: score, member, ttlMs. */
  register: `
redis.call('ZADD', key, ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
return 1`,

  /** On a lock key: delete it if `token` still holds it. ARGV: token. */
  unlock: `
if redis.call('GET', key) == ARGV[1] then return redis.call('DEL', key) end
return 0`,
} as const;

/** A script name. */
export type ScriptName = keyof typeof SOURCES;

/** A Lua script with its SHA1, ready for EVALSHA. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

/** Prepares `lua` for {@link evalScript}. */
export function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** Scripts on keys other than a family hash: they get `key` but not the family helpers. */
const WITHOUT_PRELUDE = new Set<ScriptName>(['register', 'unlock', 'ttl']);

const SCRIPTS = Object.fromEntries(
  (Object.keys(SOURCES) as ScriptName[]).map((name) => [
    name,
    luaScript(WITHOUT_PRELUDE.has(name) ? `local key = KEYS[1]\n${SOURCES[name]}` : PRELUDE + SOURCES[name]),
  ]),
) as Record<ScriptName, LuaScript>;

/** A script argument: text, a number, or a binary record. */
export type ScriptArg = string | number | Buffer | Uint8Array;

/** A script reply with bulk strings as Buffers. */
export type Reply = null | number | Buffer | Reply[];

/**
 * The script commands ioredis generates at runtime but leaves out of its type declarations. The
 * named forms are used (not `call('evalsha', …)`) because only they work with
 * `enableAutoPipelining`.
 */
interface ScriptCommands {
  evalsha(sha: string, keys: number, ...args: (string | number | Buffer)[]): Promise<unknown>;
  evalshaBuffer(sha: string, keys: number, ...args: (string | number | Buffer)[]): Promise<unknown>;
  eval(lua: string, keys: number, ...args: (string | number | Buffer)[]): Promise<unknown>;
  evalBuffer(lua: string, keys: number, ...args: (string | number | Buffer)[]): Promise<unknown>;
}

/** True for the NOSCRIPT error of a server that has not cached the script (anymore). */
function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs `script` on one `key`: EVALSHA, then EVAL if the server answers NOSCRIPT (a new node, a
 * restart, a failover, `SCRIPT FLUSH`); EVAL caches the script again. One round trip whenever the
 * script is cached. `replies: 'buffer'` returns bulk strings as Buffers (binary records).
 */
export async function evalScript(
  client: Redis | Cluster,
  script: LuaScript,
  key: string,
  args: readonly ScriptArg[],
  replies: 'buffer' | 'string',
): Promise<unknown> {
  const commands = client as unknown as ScriptCommands;
  const argv = args.map((arg) =>
    arg instanceof Uint8Array && !Buffer.isBuffer(arg) ? Buffer.from(arg) : arg,
  ) as (string | number | Buffer)[];
  try {
    return replies === 'buffer'
      ? await commands.evalshaBuffer(script.sha, 1, key, ...argv)
      : await commands.evalsha(script.sha, 1, key, ...argv);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return replies === 'buffer'
      ? commands.evalBuffer(script.lua, 1, key, ...argv)
      : commands.eval(script.lua, 1, key, ...argv);
  }
}

/** Runs the repository script `name` on `key`, replies as Buffers. */
export async function runScript(
  client: Redis | Cluster,
  name: ScriptName,
  key: string,
  args: readonly ScriptArg[],
): Promise<Reply> {
  return (await evalScript(client, SCRIPTS[name], key, args, 'buffer')) as Reply;
}

/** The SHA1 of every script, for tests that check what the server has cached. */
export const SCRIPT_SHAS: Readonly<Record<ScriptName, string>> = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, script]) => [name, script.sha]),
) as Record<ScriptName, string>;
