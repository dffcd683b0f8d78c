-- BatchScheduler schema V014: cancel of a running attempt (SQL Server).
-- See database/postgres/V014__attempt_cancel.sql for what each column means. Guarded, so safe to run
-- again. Shipped but not verified against a SQL Server here: see database/README.md.

IF COL_LENGTH(N'work_items', N'cancel_fence') IS NULL
  ALTER TABLE work_items ADD cancel_fence bigint NULL, cancel_by nvarchar(200) NULL, cancel_reason nvarchar(4000) NULL;
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'ix_work_items_cancel' AND object_id = OBJECT_ID(N'work_items'))
  CREATE INDEX ix_work_items_cancel ON work_items (node_id) WHERE cancel_fence IS NOT NULL;
GO
