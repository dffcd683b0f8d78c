-- BatchScheduler schema V015: bulk actions by filter (SQL Server).
-- See database/postgres/V015__bulk_actions.sql for what each column means. Guarded, so safe to
-- run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'bulk_actions', N'U') IS NULL
BEGIN
  CREATE TABLE bulk_actions (
    id             nvarchar(32)      NOT NULL,
    action         nvarchar(20)      NOT NULL,
    filter         nvarchar(max)     NOT NULL,
    tier           nvarchar(50)      NULL,
    reason         nvarchar(max)     NULL,
    requested_by   nvarchar(200)     NOT NULL,
    node_id        nvarchar(200)     NOT NULL,
    state          nvarchar(20)      NOT NULL,
    matched        bigint            NOT NULL DEFAULT 0,
    applied        bigint            NOT NULL DEFAULT 0,
    skipped        bigint            NOT NULL DEFAULT 0,
    not_applied    bigint            NOT NULL DEFAULT 0,
    last_data_type nvarchar(200)     NULL,
    last_entity_id nvarchar(200)     NULL,
    error          nvarchar(max)     NULL,
    started_at     datetimeoffset(7) NOT NULL,
    finished_at    datetimeoffset(7) NULL,
    CONSTRAINT pk_bulk_actions PRIMARY KEY (id),
    CONSTRAINT ck_bulk_actions_state CHECK (state IN (N'running', N'done', N'failed', N'interrupted'))
  );
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_bulk_actions_state_node' AND object_id = OBJECT_ID(N'bulk_actions'))
  CREATE INDEX ix_bulk_actions_state_node ON bulk_actions (state, node_id);
GO
