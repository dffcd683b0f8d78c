-- BatchScheduler schema V017: Quartz's waiting triggers by group in due order (SQL Server).
--
-- Nothing to do here. On PostgreSQL V017 adds an index the set-based firing rounds read when some data
-- types are limited or not executed by a node (see database/postgres/V017__quartz_trigger_group_due_index.sql).
-- Set-based rounds are PostgreSQL's only. The script exists so that every provider's schema has the same
-- versions.

SELECT 1;
