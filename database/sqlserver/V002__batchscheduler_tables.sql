-- BatchScheduler schema V002: BatchScheduler's own tables (SQL Server).
--
-- work_items: one row per (data type, entity) pair, the truth about it (see database/README.md).
-- failures:   one row per failed attempt, triaged by ops with the done flag.
--
-- Strings are nvarchar: .NET sends string parameters as nvarchar, and comparing those to a varchar
-- column converts the column and can turn an index seek into a scan.
-- Every statement is guarded, creates only what is missing and drops nothing, so the script is safe
-- to run by hand (sqlcmd -b -i V002__batchscheduler_tables.sql) and again later by `Scheduler migrate`.
-- Batches are separated by GO lines (sqlcmd and DbUp both split on them).
-- Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'work_items', N'U') IS NULL
BEGIN
  CREATE TABLE work_items (
    data_type     nvarchar(200)     NOT NULL,
    entity_id     nvarchar(200)     NOT NULL,
    tier          nvarchar(50)      NULL,
    payload       nvarchar(max)     NULL,
    state         nvarchar(20)      NOT NULL CONSTRAINT df_work_items_state DEFAULT N'never_run',
    attempt       int               NOT NULL CONSTRAINT df_work_items_attempt DEFAULT 0,
    updates_start datetimeoffset(7) NULL,
    updates_end   datetimeoffset(7) NULL,
    last_error    nvarchar(4000)    NULL,
    batch_id      nvarchar(64)      NULL,
    node_id       nvarchar(200)     NULL,
    created_at    datetimeoffset(7) NOT NULL,
    updated_at    datetimeoffset(7) NOT NULL,
    CONSTRAINT pk_work_items PRIMARY KEY (data_type, entity_id),
    CONSTRAINT ck_work_items_state CHECK (state IN
      (N'never_run', N'in_flight', N'completed', N'retrying', N'deferred', N'dead_lettered', N'expired'))
  );
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_data_type_state' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  CREATE INDEX ix_work_items_data_type_state ON work_items (data_type, state);
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_state' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  CREATE INDEX ix_work_items_state ON work_items (state);
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_batch_id' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  CREATE INDEX ix_work_items_batch_id ON work_items (batch_id) WHERE batch_id IS NOT NULL;
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_data_type_updates_end' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  CREATE INDEX ix_work_items_data_type_updates_end ON work_items (data_type, updates_end);
END
GO

IF OBJECT_ID(N'failures', N'U') IS NULL
BEGIN
  CREATE TABLE failures (
    id             bigint            IDENTITY(1,1) NOT NULL,
    data_type      nvarchar(200)     NOT NULL,
    entity_id      nvarchar(200)     NOT NULL,
    attempt        int               NOT NULL,
    node_id        nvarchar(200)     NOT NULL,
    failed_at      datetimeoffset(7) NOT NULL,
    exception_type nvarchar(500)     NOT NULL,
    message        nvarchar(max)     NOT NULL,
    detail         nvarchar(max)     NULL,
    done           bit               NOT NULL CONSTRAINT df_failures_done DEFAULT 0,
    done_at        datetimeoffset(7) NULL,
    CONSTRAINT pk_failures PRIMARY KEY (id)
  );
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failures_done_failed_at' AND object_id = OBJECT_ID(N'failures'))
BEGIN
  CREATE INDEX ix_failures_done_failed_at ON failures (done, failed_at);
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failures_data_type_entity_id_failed_at' AND object_id = OBJECT_ID(N'failures'))
BEGIN
  CREATE INDEX ix_failures_data_type_entity_id_failed_at ON failures (data_type, entity_id, failed_at);
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_failures_failed_at' AND object_id = OBJECT_ID(N'failures'))
BEGIN
  CREATE INDEX ix_failures_failed_at ON failures (failed_at);
END
GO
