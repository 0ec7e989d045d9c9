-- sessionkit schema, version 1. `{{schema}}` is replaced by the quoted schema name by migrate().
-- Times are epoch milliseconds (bigint) passed in by the caller, never read from the server clock,
-- so one injected clock governs every rule. Refresh tokens are stored only as hashes.

CREATE TABLE {{schema}}.families (
  id                  uuid PRIMARY KEY,
  subject             text NOT NULL,
  created_at          bigint NOT NULL,
  absolute_expires_at bigint NOT NULL,
  auth_context        jsonb NOT NULL,
  client              jsonb NOT NULL,
  grant_info          jsonb NOT NULL,
  state               text NOT NULL CHECK (state IN ('active', 'revoked')),
  revoked_at          bigint,
  revoke_reason       text
);
-- Listing and counting a subject's families, oldest first.
CREATE INDEX families_subject_created_idx ON {{schema}}.families (subject, created_at, id);
-- Cleanup by absolute expiry.
CREATE INDEX families_absolute_expiry_idx ON {{schema}}.families (absolute_expires_at);

CREATE TABLE {{schema}}.sessions (
  id              uuid PRIMARY KEY,
  family_id       uuid NOT NULL REFERENCES {{schema}}.families (id) ON DELETE CASCADE,
  subject         text NOT NULL,
  created_at      bigint NOT NULL,
  last_seen_at    bigint NOT NULL,
  last_ip         text,
  idle_expires_at bigint NOT NULL,
  generation      integer NOT NULL,
  state           text NOT NULL CHECK (state IN ('active', 'ended', 'revoked')),
  ended_at        bigint,
  revoke_reason   text
);
CREATE INDEX sessions_family_idx ON {{schema}}.sessions (family_id);
-- Cleanup by idle expiry.
CREATE INDEX sessions_idle_expiry_idx ON {{schema}}.sessions (idle_expires_at);

CREATE TABLE {{schema}}.refresh_tokens (
  hash             text PRIMARY KEY,
  session_id       uuid NOT NULL REFERENCES {{schema}}.sessions (id) ON DELETE CASCADE,
  family_id        uuid NOT NULL REFERENCES {{schema}}.families (id) ON DELETE CASCADE,
  generation       integer NOT NULL,
  issued_at        bigint NOT NULL,
  state            text NOT NULL CHECK (state IN ('current', 'rotated', 'revoked')),
  rotated_at       bigint,
  successor_hash   text,
  sealed_successor text
);
CREATE INDEX refresh_tokens_session_idx ON {{schema}}.refresh_tokens (session_id);
CREATE INDEX refresh_tokens_family_idx ON {{schema}}.refresh_tokens (family_id);
-- Dropping sealed successors after the grace window visits only records that still hold one.
CREATE INDEX refresh_tokens_sealed_idx ON {{schema}}.refresh_tokens (rotated_at)
  WHERE sealed_successor IS NOT NULL;

-- One renewal lease per session, taken with a conditional upsert.
CREATE TABLE {{schema}}.leases (
  session_id uuid PRIMARY KEY REFERENCES {{schema}}.sessions (id) ON DELETE CASCADE,
  lease_id   text NOT NULL,
  expires_at bigint NOT NULL
);

-- Append-only audit trail: ids and token handles only, never a token or a hash.
CREATE TABLE {{schema}}.events (
  id         bigserial PRIMARY KEY,
  at         bigint NOT NULL,
  type       text NOT NULL,
  family_id  uuid,
  session_id uuid,
  subject    text,
  data       jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_family_idx ON {{schema}}.events (family_id, id);
CREATE INDEX events_session_idx ON {{schema}}.events (session_id, id);

-- Revocation feed: one row per session revoked or ended; NOTIFY carries the newest id, and a
-- subscriber that lost its connection re-reads every row after the last id it saw.
CREATE TABLE {{schema}}.revocations (
  id         bigserial PRIMARY KEY,
  session_id uuid NOT NULL,
  family_id  uuid NOT NULL,
  subject    text NOT NULL,
  reason     text NOT NULL,
  revoked_at bigint NOT NULL
);
CREATE INDEX revocations_revoked_at_idx ON {{schema}}.revocations (revoked_at);
