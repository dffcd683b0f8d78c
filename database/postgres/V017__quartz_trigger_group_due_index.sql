-- BatchScheduler schema V017: Quartz's waiting triggers by group in due order (PostgreSQL).
--
-- When some data types are limited (DataTypes:<name>:MaxConcurrency, MaxConcurrencyPerNode) or not
-- executed by a node (Cluster:DataTypes), the set-based firing round claims each data type it may fire
-- in that data type's own due order and merges them (QuartzTables/SetFiringRounds.cs). In one due
-- order over all groups (idx_qrtz_t_nft_st) every claim stepped over the waiting items it may not
-- take, the stalest when a limit holds them back: a backlog of 100,000 cut a drain beside it to 0.4x.
--
-- Without limits or node pools the round claims by idx_qrtz_t_nft_st as before; this index is then
-- only written, not read: measured in docs/benchmarks.md (Concurrency limits, issue 22).
--
-- SQL Server and SQLite do not need it (their V017 is empty): set-based rounds are PostgreSQL's.
--
-- Safe to run again.

CREATE INDEX IF NOT EXISTS idx_qrtz_t_g_st_nft ON qrtz_triggers (sched_name, trigger_group, trigger_state, next_fire_time, priority DESC);
