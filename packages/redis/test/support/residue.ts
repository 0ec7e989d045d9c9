/**
 * The residue audit of the conformance runs: before each test empties the prefix, and after the
 * suite, every key left under it is checked on every master (SCAN per master) — each has a TTL, and
 * no value holds anything shaped like a refresh token or a signed access token.
 */
import type { Cluster, Redis } from 'ioredis';
import { dumpPrefix } from './redis.js';

/** `skr_<UUIDv7>.`: the start of every refresh token sessionkit hands out. */
export const REFRESH_TOKEN = /skr_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\./;
/** A compact JWS with a JSON header and payload: an access token. */
export const ACCESS_TOKEN = /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\./;

/** What the audit saw over a whole run. */
export interface ResidueAudit {
  readonly keys: number;
  readonly mastersWithKeys: number;
  readonly problems: readonly string[];
  /** Checks what is stored under the prefix now, master by master, and records what is wrong. */
  check(): Promise<void>;
}

/** An audit of `prefix` on the masters `client()` reaches (one for a standalone server). */
export function residueAudit(client: () => Redis | Cluster, prefix: string): ResidueAudit {
  const state = { keys: 0, mastersWithKeys: 0, problems: [] as string[] };
  return {
    get keys() {
      return state.keys;
    },
    get mastersWithKeys() {
      return state.mastersWithKeys;
    },
    get problems() {
      return state.problems;
    },
    async check() {
      const connected = client();
      const masters = connected.isCluster ? (connected as Cluster).nodes('master') : [connected as Redis];
      let withKeys = 0;
      for (const node of masters) {
        const dumped = await dumpPrefix(node, prefix);
        if (dumped.length > 0) withKeys += 1;
        state.keys += dumped.length;
        for (const entry of dumped) {
          if (entry.ttlMs <= 0) state.problems.push(`${entry.type} ${entry.key} has no TTL (${entry.ttlMs})`);
          if (REFRESH_TOKEN.test(entry.text)) state.problems.push(`${entry.key} holds a refresh token`);
          if (ACCESS_TOKEN.test(entry.text)) state.problems.push(`${entry.key} holds an access token`);
        }
      }
      state.mastersWithKeys = Math.max(state.mastersWithKeys, withKeys);
    },
  };
}
