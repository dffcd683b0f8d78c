-- BatchScheduler schema V019: an index that makes retention's deletes of done failures cheap (SQL Server).
--
-- See database/postgres/V019__retention_indexes.sql: retention deletes failures marked done by done_at
-- (Retention:Failures:Done); open failures have no done_at, so the filtered index holds done ones only.
--
-- Guarded, so safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'ix_failures_done_at' AND object_id = OBJECT_ID(N'failures'))
  CREATE INDEX ix_failures_done_at ON failures (done_at) WHERE done_at IS NOT NULL;
GO
