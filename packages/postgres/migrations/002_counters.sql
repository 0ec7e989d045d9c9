-- sessionkit schema, version 2: running totals every process shares (stats().expiredDeleted).
-- A row is created by the first increment (an upsert), so emptying the table resets the totals.

CREATE TABLE {{schema}}.counters (
  name  text PRIMARY KEY,
  value bigint NOT NULL
);
