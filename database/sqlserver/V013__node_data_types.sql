-- BatchScheduler schema V013: the data types each node executes (node pools, issue 22) (SQL Server).
--
-- node_data_types: one row per worker node: the data types it executes (Cluster:DataTypes, or every
--                  configured one), comma-separated, as it published them at start and refreshes every
--                  minute (updated_at: .NET ticks, UTC). Whether the node is alive is Quartz's
--                  QRTZ_SCHEDULER_STATE; a row not refreshed for an hour is removed by the next node to publish.
--
-- Guarded, so safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'node_data_types', N'U') IS NULL
BEGIN
  CREATE TABLE node_data_types (
    node_id     nvarchar(200) NOT NULL,
    data_types  nvarchar(max) NOT NULL,
    updated_at  bigint        NOT NULL,
    CONSTRAINT pk_node_data_types PRIMARY KEY (node_id)
  );
END
GO
