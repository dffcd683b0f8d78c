-- BatchScheduler schema V012: runAt kept until the item starts, and runAt in batch records (PostgreSQL).
--
-- work_items.run_at_fence:  the item's fence when its run_at was given. The run_at is owed (the item's
--                           next run is not before it) while the fence is still that one: no start of the
--                           item since. Trigger repair and a re-tier re-arm an item that owes a run_at
--                           ahead at it. The fence changes only when the item starts, so no statement
--                           that starts an item has to know about run_at.
-- batch_records.run_at:     the record's runAt (field or column of the batch file), registered with it.
--
-- Safe to run again.

ALTER TABLE work_items ADD COLUMN IF NOT EXISTS run_at_fence bigint NOT NULL DEFAULT 0;

ALTER TABLE batch_records ADD COLUMN IF NOT EXISTS run_at timestamptz NULL;
