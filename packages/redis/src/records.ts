/**
 * Between domain records and what a family hash stores (field layout in scripts.ts). Cores —
 * the fields scripts decide on — are plain MessagePack maps; metadata (subject, client, grant, auth
 * context, last IP) goes through the record codec, so it can be encrypted at rest with the record id
 * as authenticated data: `<familyId>` for `fm`, `<familyId>/auth` for `fa`, `<familyId>/ip` for every
 * `sm:<sid>` (bound to the family, not the session: a renewal's script learns the session id from the
 * token record, after Node has sealed the new last IP).
 */

import type {
  AuthContext,
  ClientContext,
  Family,
  FamilyId,
  Grant,
  RefreshTokenRecord,
  RevokeReason,
  Session,
  SessionId,
  TokenHash,
} from '@sessionkit/sessions-core';
import { CryptoError } from '@sessionkit/sessions-core';
import { Packr } from 'msgpackr';
import type { RecordCodec } from './codec.js';

const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  int64AsType: 'number',
  mapsAsObjects: true,
});

/** Stored family core. */
export interface FamilyCore {
  st: Family['state'];
  ca: number;
  ax: number;
  ra?: number;
  rr?: RevokeReason;
  ss: string[];
}

/** Stored session core. */
export interface SessionCore {
  st: Session['state'];
  ca: number;
  ls: number;
  ix: number;
  g: number;
  ea?: number;
  rr?: RevokeReason;
  li?: string;
  le?: number;
  ct?: string;
}

/** Stored refresh-token record. */
export interface TokenCore {
  sid: string;
  g: number;
  ia: number;
  st: RefreshTokenRecord['state'];
  ra?: number;
  sh?: string;
  ss?: string;
}

interface FamilyMeta {
  sub: string;
  cl: ClientContext;
  gr: Grant;
}

/** Packs a core record (undefined members are left out). */
export function packCore(value: object): Buffer {
  const defined = Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
  return Buffer.from(packr.pack(defined));
}

/** Unpacks a core record; anything that is not a map is a corrupt record. */
export function unpackCore<T>(bytes: Buffer, what: string): T {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch {
    throw new CryptoError(`redis: stored ${what} record is not MessagePack`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CryptoError(`redis: stored ${what} record is not a map`);
  }
  return value as T;
}

export function familyCore(family: Family, sessionIds: readonly string[]): FamilyCore {
  return {
    st: family.state,
    ca: family.createdAt,
    ax: family.absoluteExpiresAt,
    ...(family.revokedAt === undefined ? {} : { ra: family.revokedAt }),
    ...(family.revokeReason === undefined ? {} : { rr: family.revokeReason }),
    ss: [...sessionIds],
  };
}

export function sessionCore(session: Session, currentHash: string): SessionCore {
  return {
    st: session.state,
    ca: session.createdAt,
    ls: session.lastSeenAt,
    ix: session.idleExpiresAt,
    g: session.generation,
    ...(session.endedAt === undefined ? {} : { ea: session.endedAt }),
    ...(session.revokeReason === undefined ? {} : { rr: session.revokeReason }),
    ...(session.lease === undefined ? {} : { li: session.lease.id, le: session.lease.expiresAt }),
    ct: currentHash,
  };
}

export function tokenCore(token: RefreshTokenRecord): TokenCore {
  return {
    sid: token.sessionId,
    g: token.generation,
    ia: token.issuedAt,
    st: token.state,
    ...(token.rotatedAt === undefined ? {} : { ra: token.rotatedAt }),
    ...(token.successorHash === undefined ? {} : { sh: token.successorHash }),
    ...(token.sealedSuccessor === undefined ? {} : { ss: token.sealedSuccessor }),
  };
}

export function tokenFrom(hash: string, familyId: string, core: TokenCore): RefreshTokenRecord {
  return {
    hash: hash as TokenHash,
    sessionId: core.sid as SessionId,
    familyId: familyId as FamilyId,
    generation: core.g,
    issuedAt: core.ia,
    state: core.st,
    ...(core.ra === undefined ? {} : { rotatedAt: core.ra }),
    ...(core.sh === undefined ? {} : { successorHash: core.sh as TokenHash }),
    ...(core.ss === undefined ? {} : { sealedSuccessor: core.ss }),
  };
}

/** Record ids (the AAD of encrypted metadata). */
export const recordIds = {
  familyMeta: (familyId: string) => familyId,
  familyAuth: (familyId: string) => `${familyId}/auth`,
  sessionMeta: (familyId: string) => `${familyId}/ip`,
};

/** A metadata field whose blob was sealed under a previous key (or plain under encryption). */
export interface StaleField {
  readonly field: string;
  readonly old: Buffer;
  readonly fresh: () => Promise<Uint8Array>;
}

/** Encodes and decodes the metadata blobs, collecting fields that should be re-sealed. */
export class MetaCodec {
  readonly #codec: RecordCodec;

  constructor(codec: RecordCodec) {
    this.#codec = codec;
  }

  familyMeta(family: Family): Promise<Uint8Array> {
    const meta: FamilyMeta = { sub: family.subject, cl: family.client, gr: family.grant };
    return this.#codec.encode(recordIds.familyMeta(family.id), meta);
  }

  /** The subject alone, from a family's `fm` record (cleanup needs nothing else). */
  async subject(familyId: string, fm: Buffer): Promise<string> {
    const { value } = await this.#codec.decode(recordIds.familyMeta(familyId), fm);
    return (value as FamilyMeta).sub;
  }

  familyAuth(familyId: string, auth: AuthContext): Promise<Uint8Array> {
    return this.#codec.encode(recordIds.familyAuth(familyId), auth);
  }

  /** Empty when there is no last IP (the field is then not written). */
  async sessionMeta(familyId: string, lastIp: string | undefined): Promise<Uint8Array | ''> {
    return lastIp === undefined ? '' : this.#codec.encode(recordIds.sessionMeta(familyId), { ip: lastIp });
  }

  async #open(recordId: string, field: string, bytes: Buffer, stale: StaleField[]): Promise<unknown> {
    const { value, stale: isStale } = await this.#codec.decode(recordId, bytes);
    if (isStale) stale.push({ field, old: bytes, fresh: () => this.#codec.encode(recordId, value) });
    return value;
  }

  /** Rebuilds a family from its core and metadata blobs. */
  async family(
    familyId: string,
    core: FamilyCore,
    fm: Buffer,
    fa: Buffer,
    stale: StaleField[],
  ): Promise<Family> {
    const [meta, auth] = await Promise.all([
      this.#open(recordIds.familyMeta(familyId), 'fm', fm, stale) as Promise<FamilyMeta>,
      this.#open(recordIds.familyAuth(familyId), 'fa', fa, stale) as Promise<AuthContext>,
    ]);
    return {
      id: familyId as FamilyId,
      subject: meta.sub,
      createdAt: core.ca,
      absoluteExpiresAt: core.ax,
      authContext: auth,
      client: meta.cl,
      grant: meta.gr,
      state: core.st,
      ...(core.ra === undefined ? {} : { revokedAt: core.ra }),
      ...(core.rr === undefined ? {} : { revokeReason: core.rr }),
    };
  }

  /** Rebuilds a session from its core and (optional) metadata blob. */
  async session(
    sessionId: string,
    family: Family,
    core: SessionCore,
    sm: Buffer | null,
    stale: StaleField[],
  ): Promise<Session> {
    const meta =
      sm === null
        ? undefined
        : ((await this.#open(recordIds.sessionMeta(family.id), `sm:${sessionId}`, sm, stale)) as {
            ip?: string;
          });
    return {
      id: sessionId as SessionId,
      familyId: family.id,
      subject: family.subject,
      createdAt: core.ca,
      lastSeenAt: core.ls,
      ...(meta?.ip === undefined ? {} : { lastIp: meta.ip }),
      idleExpiresAt: core.ix,
      generation: core.g,
      state: core.st,
      ...(core.ea === undefined ? {} : { endedAt: core.ea }),
      ...(core.rr === undefined ? {} : { revokeReason: core.rr }),
      ...(core.li === undefined || core.le === undefined
        ? {}
        : { lease: { id: core.li, expiresAt: core.le } }),
    };
  }
}
