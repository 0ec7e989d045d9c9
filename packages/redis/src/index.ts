/**
 * @sessionkit/redis — the sessionkit repository on Redis and Redis Cluster. This entry point
 * re-exports each public name explicitly; so far that is the record codec, which stores family and
 * session metadata as MessagePack with optional AES-256-GCM encryption at rest.
 */

export {
  createRecordCodec,
  DEFAULT_MAX_RECORD_BYTES,
  type DecodedRecord,
  type RecordCodec,
  type RecordCodecOptions,
  type RecordEncryption,
  type RecordKey,
} from './codec.js';
