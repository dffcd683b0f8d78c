-- BatchScheduler schema V019: an index that makes retention's deletes of done failures cheap (SQLite).
--
-- See database/postgres/V019__retention_indexes.sql: retention deletes failures marked done by done_at
-- (Retention:Failures:Done); open failures have no done_at, so the index holds done ones only.
--
-- Safe to run again.

CREATE INDEX IF NOT EXISTS ix_failures_done_at ON failures (done_at) WHERE done_at IS NOT NULL;
