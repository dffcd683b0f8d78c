-- BatchScheduler schema V019: an index that makes retention's deletes of done failures cheap (PostgreSQL).
--
-- Retention (BatchScheduler/Retention/RetentionPass.cs, docs/operations.md "Retention") deletes, a chunk at a time:
--   failures marked done        by done_at      (Retention:Failures:Done)  -> ix_failures_done_at (this script)
--   failures not marked done    by failed_at    (Retention:Failures:Open)  -> ix_failures_done_failed_at (V002)
--   stats_minutely              by minute_start (Retention:MinuteStats)    -> pk_stats_minutely (V006)
--   audit_log                   by recorded_at  (Retention:Audit)          -> ix_audit_log_recorded_at (V016)
--   completed one-shot items    by updated_at   (DataTypes:<name>:Retention:Completed)
--                                                  -> ix_work_items_data_type_state_tier (V004): a data type's
--                                                     completed items in its one-shot tiers, no new index on the
--                                                     firing path's table.
-- Without this index each chunk of done failures would read every done row still kept (all of
-- Retention:Failures:Done's rows) through (done, failed_at) to test done_at. Partial: open failures have no done_at.
--
-- Autovacuum settings are not set here (docs/operations.md, "Retention", says what to consider and why).
--
-- Safe to run again. No CREATE INDEX CONCURRENTLY: the migrator runs the script in one transaction.

CREATE INDEX IF NOT EXISTS ix_failures_done_at ON failures (done_at) WHERE done_at IS NOT NULL;
