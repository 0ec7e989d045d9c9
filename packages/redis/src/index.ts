/**
 * @sessionkit/redis — the sessionkit repository on Redis and Redis Cluster. This entry point
 * re-exports each public name explicitly: the repository, the record codec, which stores family and
 * session metadata as MessagePack with optional AES-256-GCM encryption at rest, and the revocation
 * feed, which carries revoked session ids to verifiers over a Redis Stream and pub/sub.
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
export {
  createRevocationSubscriber,
  DEFAULT_FEED_PREFIX,
  DEFAULT_FEED_RETENTION_MS,
  type FeedKeys,
  type FeedReason,
  type FeedRevocation,
  feedKeys,
  type PublishRevocationsOptions,
  type PublishRevocationsResult,
  publishRevocations,
  type RevocationInput,
  type RevocationSubscriber,
  type RevocationSubscriberOptions,
} from './feed.js';
export { createRedisRepository, type RedisRepositoryOptions } from './repository.js';
