-- BatchScheduler schema V008: no indexes of Quartz's triggers by job or by group (SQLite).
--
-- Nothing to do here. On PostgreSQL V008 drops idx_qrtz_t_j and idx_qrtz_t_g_n, which only Quartz's
-- job- and group-wide operations (pause, resume or delete a job or group, list their triggers) use
-- and every bulk-registered trigger paid entries in (see database/postgres/V008__quartz_lookup_indexes.sql).
-- SQLite keeps Quartz's schema as it is: its triggers are written one by one through Quartz's own
-- statements. The script exists so that every provider's schema has the same versions.

SELECT 1;
