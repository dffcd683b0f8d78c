-- BatchScheduler schema V012: runAt kept until the item starts, and runAt in batch records (SQLite).
-- See database/postgres/V012__run_at_fence_and_batch_records.sql for what each column means.

ALTER TABLE work_items ADD COLUMN run_at_fence INTEGER NOT NULL DEFAULT 0;

ALTER TABLE batch_records ADD COLUMN run_at text NULL;
