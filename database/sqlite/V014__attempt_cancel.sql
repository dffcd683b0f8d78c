-- BatchScheduler schema V014: cancel of a running attempt (SQLite).
-- See database/postgres/V014__attempt_cancel.sql for what each column means. SQLite has no
-- ADD COLUMN IF NOT EXISTS: `migrate` skips an ADD COLUMN whose column exists (as for V009).

ALTER TABLE work_items ADD COLUMN cancel_fence INTEGER NULL;
ALTER TABLE work_items ADD COLUMN cancel_by varchar(200) NULL;
ALTER TABLE work_items ADD COLUMN cancel_reason text NULL;

CREATE INDEX IF NOT EXISTS ix_work_items_cancel ON work_items (node_id) WHERE cancel_fence IS NOT NULL;
