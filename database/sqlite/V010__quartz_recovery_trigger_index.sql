-- BatchScheduler schema V010: an index of Quartz's recovery triggers (SQLite).
--
-- Nothing to do here. On PostgreSQL V010 adds a partial index of the triggers Quartz's recovery
-- stores in group RECOVERING_JOBS, which every set-based firing round reads to move them to the front
-- of the due order (see database/postgres/V010__quartz_recovery_trigger_index.sql). On SQLite that
-- move runs once, after Quartz's start, and needs no index. The script exists so that every
-- provider's schema has the same versions.

SELECT 1;
