-- BatchScheduler schema V012: runAt kept until the item starts, and runAt in batch records (SQL Server).
-- See database/postgres/V012__run_at_fence_and_batch_records.sql for what each column means. Guarded, so
-- safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF COL_LENGTH(N'work_items', N'run_at_fence') IS NULL
  ALTER TABLE work_items ADD run_at_fence bigint NOT NULL CONSTRAINT df_work_items_run_at_fence DEFAULT 0;
GO

IF COL_LENGTH(N'batch_records', N'run_at') IS NULL
  ALTER TABLE batch_records ADD run_at datetimeoffset(7) NULL;
GO
