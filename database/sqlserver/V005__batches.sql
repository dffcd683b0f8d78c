-- BatchScheduler schema V005: batches from files (SQL Server).
--
-- batches:        one row per submitted file: its status (validating, in_progress, completed,
--                 partial_success, failed, expired, cancelled, archived), the final status kept in
--                 `outcome` once archived, the parameters and timings for the audit, how far its
--                 records have been registered as work items (`registered_line`, so another node can
--                 resume), and the completion callback's delivery.
-- batch_records:  one row per record of the file (valid or not), by line number: the batch's own
--                 account of every record. `outcome` is NULL while a valid record's work item has not
--                 finished, then succeeded / failed / expired / cancelled; invalid records say why.
-- work_items (batch_id, state) replaces V002's index on batch_id alone (its prefix).
--
-- Guarded, so safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'batches', N'U') IS NULL
BEGIN
  CREATE TABLE batches (
    id                    nvarchar(64)      NOT NULL,
    data_type             nvarchar(200)     NOT NULL,
    status                nvarchar(20)      NOT NULL,
    outcome               nvarchar(20)      NULL,
    content_type          nvarchar(200)     NOT NULL,
    bytes                 bigint            NOT NULL CONSTRAINT df_batches_bytes DEFAULT 0,
    total                 int               NOT NULL CONSTRAINT df_batches_total DEFAULT 0,
    invalid               int               NOT NULL CONSTRAINT df_batches_invalid DEFAULT 0,
    registered_line       bigint            NOT NULL CONSTRAINT df_batches_registered_line DEFAULT 0,
    deadline              datetimeoffset(7) NULL,
    callback_url          nvarchar(2000)    NULL,
    callback_attempts     int               NOT NULL CONSTRAINT df_batches_callback_attempts DEFAULT 0,
    callback_next_at      datetimeoffset(7) NULL,
    callback_delivered_at datetimeoffset(7) NULL,
    callback_last_error   nvarchar(4000)    NULL,
    error                 nvarchar(4000)    NULL,
    created_at            datetimeoffset(7) NOT NULL,
    validated_at          datetimeoffset(7) NULL,
    finished_at           datetimeoffset(7) NULL,
    archived_at           datetimeoffset(7) NULL,
    updated_at            datetimeoffset(7) NOT NULL,
    CONSTRAINT pk_batches PRIMARY KEY (id),
    CONSTRAINT ck_batches_status CHECK (status IN
      (N'validating', N'in_progress', N'completed', N'partial_success', N'failed', N'expired', N'cancelled', N'archived'))
  );
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_batches_status' AND object_id = OBJECT_ID(N'batches'))
BEGIN
  CREATE INDEX ix_batches_status ON batches (status);
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_batches_created_at' AND object_id = OBJECT_ID(N'batches'))
BEGIN
  CREATE INDEX ix_batches_created_at ON batches (created_at);
END
GO

IF OBJECT_ID(N'batch_records', N'U') IS NULL
BEGIN
  CREATE TABLE batch_records (
    batch_id  nvarchar(64)   NOT NULL,
    line      bigint         NOT NULL,
    entity_id nvarchar(200)  NULL,
    data_type nvarchar(200)  NULL,
    tier      nvarchar(50)   NULL,
    payload   nvarchar(max)  NULL,
    outcome   nvarchar(20)   NULL,
    reason    nvarchar(4000) NULL,
    CONSTRAINT pk_batch_records PRIMARY KEY (batch_id, line)
  );
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_batch_id_state' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  CREATE INDEX ix_work_items_batch_id_state ON work_items (batch_id, state) WHERE batch_id IS NOT NULL;
END
GO

IF EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_batch_id' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  DROP INDEX ix_work_items_batch_id ON work_items;
END
GO
