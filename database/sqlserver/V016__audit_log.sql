-- BatchScheduler schema V016: the audit trail of changing API requests (SQL Server).
--
-- audit_log: one row per changing request to /api from a caller that authenticated: when, who (the
--            key's name, or loopback), action (method and route pattern), target, item_count, detail,
--            the answer's HTTP status and the node. See the PostgreSQL script for the full description.
--
-- Guarded, so safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'audit_log', N'U') IS NULL
BEGIN
  CREATE TABLE audit_log (
    id          bigint            IDENTITY(1,1) NOT NULL,
    recorded_at datetimeoffset(7) NOT NULL,
    who         nvarchar(200)     NOT NULL,
    action      nvarchar(300)     NOT NULL,
    target      nvarchar(1000)    NULL,
    item_count  bigint            NULL,
    detail      nvarchar(2000)    NULL,
    status      int               NOT NULL,
    node_id     nvarchar(200)     NOT NULL,
    CONSTRAINT pk_audit_log PRIMARY KEY (id)
  );
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_audit_log_recorded_at' AND object_id = OBJECT_ID(N'audit_log'))
BEGIN
  CREATE INDEX ix_audit_log_recorded_at ON audit_log (recorded_at);
END
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_audit_log_who_id' AND object_id = OBJECT_ID(N'audit_log'))
BEGIN
  CREATE INDEX ix_audit_log_who_id ON audit_log (who, id);
END
GO
