-- BatchScheduler schema V010: an index of Quartz's recovery triggers (PostgreSQL).
--
-- When a node dies, Quartz 4.7.3's cluster recovery stores a one-shot trigger in group
-- RECOVERING_JOBS for each execution it had in progress, due at the time that execution fired.
-- BatchScheduler moves those triggers to the front of Quartz's due order, ahead of never-run items
-- (placed 30 days early) and the backlog, in every set-based firing round (RecoveredFirings.cs). The
-- round's statement looks for recovery triggers not yet in front; this partial index holds recovery
-- triggers only, so with nothing recovered the statement reads an empty index instead of every
-- waiting trigger (Quartz's own index by group, idx_qrtz_t_g_n, was dropped by V008).
--
-- Work-item triggers never enter it: their inserts and firings pay only the predicate's test, and
-- next_fire_time is already in idx_qrtz_t_nft_st, so no update that was HOT stops being so.
--
-- SQL Server and SQLite do not need it (their V010 is empty): there the move runs once, after Quartz's start.
--
-- Safe to run again.

CREATE INDEX IF NOT EXISTS idx_qrtz_t_recovering ON qrtz_triggers (sched_name, next_fire_time) WHERE trigger_group = 'RECOVERING_JOBS';
