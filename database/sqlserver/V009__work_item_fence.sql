-- BatchScheduler schema V009: the fencing token of a work item's attempts (SQL Server).
-- See database/postgres/V009__work_item_fence.sql for what it is and how it is written. Safe to run again.

IF COL_LENGTH(N'work_items', N'fence') IS NULL
  ALTER TABLE work_items ADD fence bigint NOT NULL CONSTRAINT df_work_items_fence DEFAULT 0;
