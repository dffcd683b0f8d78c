-- BatchScheduler schema V011: runAt and pause (SQL Server).
-- See database/postgres/V011__run_at_and_pause.sql for what each column means. Guarded, so safe to
-- run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF COL_LENGTH(N'work_items', N'run_at') IS NULL
  ALTER TABLE work_items ADD run_at datetimeoffset(7) NULL;
GO

IF COL_LENGTH(N'work_items', N'paused_at') IS NULL
  ALTER TABLE work_items ADD paused_at datetimeoffset(7) NULL, paused_by nvarchar(200) NULL,
                             paused_reason nvarchar(4000) NULL, paused_state nvarchar(20) NULL;
GO

IF EXISTS (SELECT 1 FROM sys.check_constraints WHERE name = 'ck_work_items_state' AND parent_object_id = OBJECT_ID(N'work_items'))
  ALTER TABLE work_items DROP CONSTRAINT ck_work_items_state;
GO

ALTER TABLE work_items ADD CONSTRAINT ck_work_items_state CHECK (state IN
  (N'never_run', N'in_flight', N'completed', N'retrying', N'deferred', N'dead_lettered', N'expired', N'paused'));
GO
