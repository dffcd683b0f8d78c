-- BatchScheduler schema V007: cheaper writes to Quartz's trigger tables (PostgreSQL).
--
-- 1. Foreign keys. Quartz.NET's schema links qrtz_triggers to qrtz_job_details, and its four
--    trigger-detail tables (simple, cron, simprop, blob) to qrtz_triggers with ON DELETE CASCADE.
--    PostgreSQL checks such keys row by row, each check a query of its own. Measured on this
--    machine class (100,000 items): the checks were 9 of the 26 us each registered item's trigger
--    rows cost, and deleting a completed one-shot's trigger ran four cascade queries (one per
--    detail table) that were 30 of the 51 us that delete cost.
--
--    Nothing relies on them. Quartz 4.7.3 writes and deletes a trigger's detail row itself, in the
--    same transaction as its trigger row (StdAdoDelegate.DeleteTriggerExtension and
--    DeleteTriggerAndFiredRows), and stores a trigger only after reading its job under its
--    TRIGGER_ACCESS lock. BatchScheduler's own statements (bulk registration, set-based firing,
--    batched completions) write and delete both rows in one transaction, and bulk registration
--    locks the job's row (FOR KEY SHARE, as the key's check did) while it inserts triggers for it.
--    A test holds the tables to "every trigger has its detail row and every detail row its
--    trigger" after runs through all of these paths.
--
-- 2. idx_qrtz_t_c (sched_name, calendar_name) becomes partial, WHERE calendar_name IS NOT NULL.
--    Quartz looks triggers up by calendar only with calendar_name = @name, which the planner
--    matches to the partial index; work-item triggers have no calendar, so their inserts and
--    every firing's update no longer add an entry to it.
--
-- SQL Server and SQLite keep both (their V007 is empty): there Quartz's own per-trigger statements
-- dominate and these costs are small beside them.
--
-- Safe to run again: it drops only the keys still there, whatever they are named, and rebuilds the
-- index only while it is not partial.

DO $$
DECLARE
  fk record;
BEGIN
  FOR fk IN
    SELECT c.conname, c.conrelid::regclass AS tbl
    FROM pg_constraint c
    WHERE c.contype = 'f'
      AND c.conrelid IN ('qrtz_triggers'::regclass, 'qrtz_simple_triggers'::regclass, 'qrtz_cron_triggers'::regclass,
                         'qrtz_simprop_triggers'::regclass, 'qrtz_blob_triggers'::regclass)
      AND c.confrelid IN ('qrtz_triggers'::regclass, 'qrtz_job_details'::regclass)
  LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tbl, fk.conname);
  END LOOP;

  IF NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = to_regclass('idx_qrtz_t_c') AND i.indpred IS NOT NULL) THEN
    DROP INDEX IF EXISTS idx_qrtz_t_c;
    CREATE INDEX idx_qrtz_t_c ON qrtz_triggers (sched_name, calendar_name) WHERE calendar_name IS NOT NULL;
  END IF;
END
$$;
