-- BatchScheduler schema V009: the fencing token of a work item's attempts (SQLite).
-- See database/postgres/V009__work_item_fence.sql for what it is and how it is written.

ALTER TABLE work_items ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
