-- BatchScheduler schema V018: views for ops reading the tables by hand (SQL Server).
-- See database/postgres/V018__ops_views.sql for what each view is, and database/README.md, "Views",
-- for their columns.
--
-- Times are datetimeoffset(7) in UTC: our own columns as stored, Quartz's .NET ticks converted with
-- DATEADD by days, milliseconds and the remaining 100 ns (DATEADD takes an int). Booleans are bit.
--
-- CREATE OR ALTER (SQL Server 2016 SP1 and later): safe to run again. One view per batch, as T-SQL requires.
-- Shipped but not verified against a SQL Server here (CI parses it): see database/README.md.

CREATE OR ALTER VIEW ops_work_items AS
SELECT w.data_type,
       w.entity_id,
       w.tier,
       w.state,
       w.paused_state,
       w.attempt,
       w.updates_start,
       w.updates_end,
       CASE WHEN w.updates_end >= w.updates_start
            THEN DATEDIFF_BIG(MICROSECOND, w.updates_start, w.updates_end) / 1000000.0 END AS last_run_seconds,
       w.last_error,
       w.batch_id,
       w.node_id,
       w.fence,
       w.run_at,
       CAST(CASE WHEN w.run_at IS NOT NULL AND w.run_at_fence = w.fence THEN 1 ELSE 0 END AS bit) AS run_at_owed,
       w.paused_at,
       w.paused_by,
       w.paused_reason,
       CAST(CASE WHEN w.cancel_fence IS NOT NULL THEN 1 ELSE 0 END AS bit) AS cancel_requested,
       w.cancel_by,
       w.cancel_reason,
       w.created_at,
       w.updated_at
FROM work_items w;
GO

CREATE OR ALTER VIEW ops_schedule AS
SELECT j.SCHED_NAME AS sched_name,
       w.data_type,
       w.entity_id,
       w.tier,
       w.state,
       w.paused_state,
       w.updates_end,
       CASE WHEN t.NEXT_FIRE_TIME > 0 THEN TODATETIMEOFFSET(DATEADD(NANOSECOND, CAST(d.due % 10000 AS int) * 100,
            DATEADD(MILLISECOND, CAST(d.due % 864000000000 / 10000 AS int),
            DATEADD(DAY, CAST(d.due / 864000000000 AS int), CAST('0001-01-01T00:00:00' AS datetime2(7))))), 0) END AS next_run_at,
       CASE WHEN t.NEXT_FIRE_TIME > 0 THEN TODATETIMEOFFSET(DATEADD(NANOSECOND, CAST(t.NEXT_FIRE_TIME % 10000 AS int) * 100,
            DATEADD(MILLISECOND, CAST(t.NEXT_FIRE_TIME % 864000000000 / 10000 AS int),
            DATEADD(DAY, CAST(t.NEXT_FIRE_TIME / 864000000000 AS int), CAST('0001-01-01T00:00:00' AS datetime2(7))))), 0) END AS fire_order_at,
       CAST(CASE WHEN t.NEXT_FIRE_TIME > 0 AND t.NEXT_FIRE_TIME < t.START_TIME THEN 1 ELSE 0 END AS bit) AS never_run_lead,
       CASE WHEN t.PREV_FIRE_TIME > 0 THEN TODATETIMEOFFSET(DATEADD(NANOSECOND, CAST(t.PREV_FIRE_TIME % 10000 AS int) * 100,
            DATEADD(MILLISECOND, CAST(t.PREV_FIRE_TIME % 864000000000 / 10000 AS int),
            DATEADD(DAY, CAST(t.PREV_FIRE_TIME / 864000000000 AS int), CAST('0001-01-01T00:00:00' AS datetime2(7))))), 0) END AS prev_fire_at,
       t.TRIGGER_STATE AS trigger_state,
       CAST(CASE WHEN t.TRIGGER_STATE IN (N'PAUSED', N'PAUSED_BLOCKED') OR g.TRIGGER_GROUP IS NOT NULL OR w.paused_at IS NOT NULL
                 THEN 1 ELSE 0 END AS bit) AS paused,
       CAST(CASE WHEN g.TRIGGER_GROUP IS NOT NULL THEN 1 ELSE 0 END AS bit) AS data_type_paused,
       g.PAUSED_BY AS data_type_paused_by,
       g.PAUSE_REASON AS data_type_paused_reason,
       CASE WHEN g.PAUSED_AT > 0 THEN TODATETIMEOFFSET(DATEADD(NANOSECOND, CAST(g.PAUSED_AT % 10000 AS int) * 100,
            DATEADD(MILLISECOND, CAST(g.PAUSED_AT % 864000000000 / 10000 AS int),
            DATEADD(DAY, CAST(g.PAUSED_AT / 864000000000 AS int), CAST('0001-01-01T00:00:00' AS datetime2(7))))), 0) END AS data_type_paused_at,
       t.CALENDAR_NAME AS calendar_name,
       LOWER(t.TRIGGER_TYPE) AS trigger_type,
       CASE WHEN c.CRON_EXPRESSION IS NOT NULL THEN CONCAT(N'cron:', c.CRON_EXPRESSION)
            WHEN s.REPEAT_COUNT = 0 THEN N'once'
            WHEN s.REPEAT_COUNT < 0 THEN CONCAT(CASE WHEN s.REPEAT_INTERVAL >= 86400000 THEN CONCAT(s.REPEAT_INTERVAL / 86400000, N'.') ELSE N'' END,
                 RIGHT(CONCAT(N'0', s.REPEAT_INTERVAL / 3600000 % 24), 2),
                 N':', RIGHT(CONCAT(N'0', s.REPEAT_INTERVAL / 60000 % 60), 2),
                 N':', RIGHT(CONCAT(N'0', s.REPEAT_INTERVAL / 1000 % 60), 2)) END AS cadence,
       c.TIME_ZONE_ID AS time_zone,
       t.PRIORITY AS priority,
       t.NEXT_FIRE_TIME AS next_fire_time
FROM work_items w
LEFT JOIN QRTZ_JOB_DETAILS j
  ON j.JOB_NAME = w.data_type
LEFT JOIN QRTZ_TRIGGERS t
  ON t.SCHED_NAME = j.SCHED_NAME AND t.TRIGGER_GROUP = w.data_type AND t.TRIGGER_NAME = w.entity_id
CROSS APPLY (SELECT CASE WHEN t.NEXT_FIRE_TIME < t.START_TIME THEN t.NEXT_FIRE_TIME + 25920000000000
                         ELSE t.NEXT_FIRE_TIME END AS due) d
LEFT JOIN QRTZ_SIMPLE_TRIGGERS s
  ON s.SCHED_NAME = t.SCHED_NAME AND s.TRIGGER_GROUP = t.TRIGGER_GROUP AND s.TRIGGER_NAME = t.TRIGGER_NAME
LEFT JOIN QRTZ_CRON_TRIGGERS c
  ON c.SCHED_NAME = t.SCHED_NAME AND c.TRIGGER_GROUP = t.TRIGGER_GROUP AND c.TRIGGER_NAME = t.TRIGGER_NAME
LEFT JOIN QRTZ_PAUSED_TRIGGER_GRPS g
  ON g.SCHED_NAME = j.SCHED_NAME AND g.TRIGGER_GROUP = w.data_type;
GO

CREATE OR ALTER VIEW ops_in_flight AS
SELECT w.data_type,
       w.entity_id,
       w.attempt,
       w.fence,
       w.node_id,
       w.updates_start,
       DATEDIFF_BIG(MICROSECOND, w.updates_start, SYSDATETIMEOFFSET()) / 1000000.0 AS running_seconds,
       CAST(CASE WHEN w.state = N'paused' THEN 1 ELSE 0 END AS bit) AS paused,
       (SELECT MIN(f.INSTANCE_NAME) FROM QRTZ_FIRED_TRIGGERS f
        WHERE f.TRIGGER_GROUP = w.data_type AND f.TRIGGER_NAME = w.entity_id AND f.STATE = N'EXECUTING') AS quartz_executing_on,
       n.SCHED_NAME AS sched_name,
       c.last_checkin AS node_last_checkin,
       n.CHECKIN_INTERVAL AS node_checkin_interval_ms,
       CAST(CASE WHEN DATEADD(MILLISECOND, CAST(n.CHECKIN_INTERVAL + 7500 AS int), c.last_checkin) >= SYSDATETIMEOFFSET()
                 THEN 1 ELSE 0 END AS bit) AS node_alive
FROM work_items w
LEFT JOIN QRTZ_SCHEDULER_STATE n ON n.INSTANCE_NAME = w.node_id
CROSS APPLY (SELECT CASE WHEN n.LAST_CHECKIN_TIME > 0 THEN TODATETIMEOFFSET(DATEADD(NANOSECOND, CAST(n.LAST_CHECKIN_TIME % 10000 AS int) * 100,
                 DATEADD(MILLISECOND, CAST(n.LAST_CHECKIN_TIME % 864000000000 / 10000 AS int),
                 DATEADD(DAY, CAST(n.LAST_CHECKIN_TIME / 864000000000 AS int), CAST('0001-01-01T00:00:00' AS datetime2(7))))), 0)
                 END AS last_checkin) c
WHERE w.state = N'in_flight' OR (w.state = N'paused' AND w.paused_state = N'in_flight');
GO

CREATE OR ALTER VIEW ops_stale_by_data_type AS
SELECT data_type,
       COUNT_BIG(*) AS items,
       SUM(excluded) AS excluded,
       SUM(CASE WHEN state = N'never_run' THEN 1 ELSE 0 END) AS never_run,
       SUM(CASE WHEN excluded = 0 AND running = 0 AND (not_succeeded = 1 OR due = 1) THEN 1 ELSE 0 END) AS stale,
       SUM(CASE WHEN excluded = 0 AND running = 0 AND due = 1 THEN 1 ELSE 0 END) AS due_not_started,
       SUM(CASE WHEN excluded = 0 AND running = 0 AND not_succeeded = 1 THEN 1 ELSE 0 END) AS not_succeeded,
       SUM(running) AS in_flight,
       MIN(CASE WHEN excluded = 0 THEN updates_end END) AS oldest_updates_end,
       MIN(CASE WHEN excluded = 0 AND running = 0 AND due = 1 THEN next_run_at END) AS oldest_due_at,
       CAST(MAX(CAST(data_type_paused AS int)) AS bit) AS data_type_paused
FROM (SELECT data_type, state, updates_end, next_run_at, data_type_paused,
             CASE WHEN tier = N'exclude' THEN 1 ELSE 0 END AS excluded,
             CASE WHEN (CASE WHEN state = N'paused' THEN paused_state ELSE state END) = N'in_flight' THEN 1 ELSE 0 END AS running,
             CASE WHEN (CASE WHEN state = N'paused' THEN paused_state ELSE state END)
                       IN (N'retrying', N'deferred', N'dead_lettered', N'expired') THEN 1 ELSE 0 END AS not_succeeded,
             CASE WHEN next_run_at <= SYSDATETIMEOFFSET() THEN 1 ELSE 0 END AS due
      FROM ops_schedule) i
GROUP BY data_type;
GO
