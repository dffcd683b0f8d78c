-- BatchScheduler schema V007: cheaper writes to Quartz's trigger tables (SQLite).
--
-- Nothing to do here. On PostgreSQL V007 drops the foreign keys of Quartz's trigger tables and makes
-- its calendar index partial: there bulk registration and set-based firing write thousands of
-- trigger rows per statement, and the keys' row-by-row checks were a third of a registered item's
-- cost and most of a completed one-shot's delete (see database/postgres/V007__quartz_trigger_write_costs.sql).
-- SQLite keeps Quartz's schema as it is: its triggers go through Quartz's own per-trigger
-- statements, beside which these costs are small. The script exists so that every provider's
-- schema has the same versions.

SELECT 1;
