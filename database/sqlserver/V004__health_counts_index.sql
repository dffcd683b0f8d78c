-- BatchScheduler schema V004: the health summary's index (SQL Server).
--
-- /api/health counts work_items by (data_type, state, tier). With tier in the index the count reads
-- the index instead of the table. It replaces V002's (data_type, state) index, which is its prefix,
-- so a state change still updates one index. Guarded, so safe to run again.
-- Shipped but not verified against a SQL Server here: see database/README.md.

IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_data_type_state_tier' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  CREATE INDEX ix_work_items_data_type_state_tier ON work_items (data_type, state, tier);
END
GO

IF EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'ix_work_items_data_type_state' AND object_id = OBJECT_ID(N'work_items'))
BEGIN
  DROP INDEX ix_work_items_data_type_state ON work_items;
END
GO
