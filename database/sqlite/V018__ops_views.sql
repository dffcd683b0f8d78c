-- BatchScheduler schema V018: views for ops reading the tables by hand (SQLite).
-- See database/postgres/V018__ops_views.sql for what each view is, and database/README.md, "Views",
-- for their columns.
--
-- SQLite has no timestamp type: every time is shown as ISO-8601 text in UTC with millisecond
-- precision ('2026-12-07T17:19:18.123Z'), converted from our text columns and from Quartz's .NET
-- ticks alike, so they sort and compare as text. Booleans are 0/1.
-- A single SQLite node does not check in (Quartz does not cluster on SQLite): qrtz_scheduler_state is
-- empty, so ops_in_flight's node_last_checkin and node_alive are null (unknown), never 0.
--
-- Safe to run again: each view is dropped (dependents first) and created anew.

DROP VIEW IF EXISTS ops_stale_by_data_type;
DROP VIEW IF EXISTS ops_in_flight;
DROP VIEW IF EXISTS ops_schedule;
DROP VIEW IF EXISTS ops_work_items;

CREATE VIEW ops_work_items AS
SELECT w.data_type,
       w.entity_id,
       w.tier,
       w.state,
       w.paused_state,
       w.attempt,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.updates_start) AS updates_start,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.updates_end) AS updates_end,
       CASE WHEN julianday(w.updates_end) >= julianday(w.updates_start)
            THEN (julianday(w.updates_end) - julianday(w.updates_start)) * 86400.0 END AS last_run_seconds,
       w.last_error,
       w.batch_id,
       w.node_id,
       w.fence,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.run_at) AS run_at,
       (w.run_at IS NOT NULL AND w.run_at_fence = w.fence) AS run_at_owed,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.paused_at) AS paused_at,
       w.paused_by,
       w.paused_reason,
       w.cancel_fence IS NOT NULL AS cancel_requested,
       w.cancel_by,
       w.cancel_reason,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.created_at) AS created_at,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.updated_at) AS updated_at
FROM work_items w;

CREATE VIEW ops_schedule AS
SELECT j.sched_name,
       w.data_type,
       w.entity_id,
       w.tier,
       w.state,
       w.paused_state,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.updates_end) AS updates_end,
       CASE WHEN t.next_fire_time > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ',
            ((CASE WHEN t.next_fire_time < t.start_time THEN t.next_fire_time + 25920000000000 ELSE t.next_fire_time END)
             - 621355968000000000) / 10000000.0, 'unixepoch') END AS next_run_at,
       CASE WHEN t.next_fire_time > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ',
            (t.next_fire_time - 621355968000000000) / 10000000.0, 'unixepoch') END AS fire_order_at,
       coalesce(t.next_fire_time > 0 AND t.next_fire_time < t.start_time, 0) AS never_run_lead,
       CASE WHEN t.prev_fire_time > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ',
            (t.prev_fire_time - 621355968000000000) / 10000000.0, 'unixepoch') END AS prev_fire_at,
       t.trigger_state,
       (coalesce(t.trigger_state IN ('PAUSED', 'PAUSED_BLOCKED'), 0) OR g.trigger_group IS NOT NULL OR w.paused_at IS NOT NULL) AS paused,
       g.trigger_group IS NOT NULL AS data_type_paused,
       g.paused_by AS data_type_paused_by,
       g.pause_reason AS data_type_paused_reason,
       CASE WHEN g.paused_at > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ',
            (g.paused_at - 621355968000000000) / 10000000.0, 'unixepoch') END AS data_type_paused_at,
       t.calendar_name,
       lower(t.trigger_type) AS trigger_type,
       CASE WHEN c.cron_expression IS NOT NULL THEN 'cron:' || c.cron_expression
            WHEN s.repeat_count = 0 THEN 'once'
            WHEN s.repeat_count < 0 THEN CASE WHEN s.repeat_interval >= 86400000 THEN printf('%d.', s.repeat_interval / 86400000) ELSE '' END
                 || printf('%02d:%02d:%02d', s.repeat_interval / 3600000 % 24, s.repeat_interval / 60000 % 60, s.repeat_interval / 1000 % 60) END AS cadence,
       c.time_zone_id AS time_zone,
       t.priority,
       t.next_fire_time
FROM work_items w
LEFT JOIN QRTZ_JOB_DETAILS j
  ON j.job_name = w.data_type
LEFT JOIN QRTZ_TRIGGERS t
  ON t.sched_name = j.sched_name AND t.trigger_group = w.data_type AND t.trigger_name = w.entity_id
LEFT JOIN QRTZ_SIMPLE_TRIGGERS s
  ON s.sched_name = t.sched_name AND s.trigger_group = t.trigger_group AND s.trigger_name = t.trigger_name
LEFT JOIN QRTZ_CRON_TRIGGERS c
  ON c.sched_name = t.sched_name AND c.trigger_group = t.trigger_group AND c.trigger_name = t.trigger_name
LEFT JOIN QRTZ_PAUSED_TRIGGER_GRPS g
  ON g.sched_name = j.sched_name AND g.trigger_group = w.data_type;

CREATE VIEW ops_in_flight AS
SELECT w.data_type,
       w.entity_id,
       w.attempt,
       w.fence,
       w.node_id,
       strftime('%Y-%m-%dT%H:%M:%fZ', w.updates_start) AS updates_start,
       (julianday('now') - julianday(w.updates_start)) * 86400.0 AS running_seconds,
       w.state = 'paused' AS paused,
       (SELECT min(f.instance_name) FROM QRTZ_FIRED_TRIGGERS f
        WHERE f.trigger_group = w.data_type AND f.trigger_name = w.entity_id AND f.state = 'EXECUTING') AS quartz_executing_on,
       n.sched_name,
       CASE WHEN n.last_checkin_time > 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ',
            (n.last_checkin_time - 621355968000000000) / 10000000.0, 'unixepoch') END AS node_last_checkin,
       n.checkin_interval AS node_checkin_interval_ms,
       CASE WHEN n.instance_name IS NOT NULL THEN n.last_checkin_time + (n.checkin_interval + 7500) * 10000
            >= CAST((julianday('now') - 2440587.5) * 864000000000 AS INTEGER) + 621355968000000000 END AS node_alive
FROM work_items w
LEFT JOIN QRTZ_SCHEDULER_STATE n ON n.instance_name = w.node_id
WHERE w.state = 'in_flight' OR (w.state = 'paused' AND w.paused_state = 'in_flight');

CREATE VIEW ops_stale_by_data_type AS
SELECT data_type,
       count(*) AS items,
       count(*) FILTER (WHERE excluded) AS excluded,
       count(*) FILTER (WHERE state = 'never_run') AS never_run,
       count(*) FILTER (WHERE NOT excluded AND NOT running AND (not_succeeded OR due)) AS stale,
       count(*) FILTER (WHERE NOT excluded AND NOT running AND due) AS due_not_started,
       count(*) FILTER (WHERE NOT excluded AND NOT running AND not_succeeded) AS not_succeeded,
       count(*) FILTER (WHERE running) AS in_flight,
       min(updates_end) FILTER (WHERE NOT excluded) AS oldest_updates_end,
       min(next_run_at) FILTER (WHERE NOT excluded AND NOT running AND due) AS oldest_due_at,
       max(data_type_paused) AS data_type_paused
FROM (SELECT data_type, state, updates_end, next_run_at, data_type_paused,
             coalesce(tier = 'exclude', 0) AS excluded,
             coalesce(CASE WHEN state = 'paused' THEN paused_state ELSE state END = 'in_flight', 0) AS running,
             coalesce(CASE WHEN state = 'paused' THEN paused_state ELSE state END
                      IN ('retrying', 'deferred', 'dead_lettered', 'expired'), 0) AS not_succeeded,
             coalesce(next_run_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0) AS due
      FROM ops_schedule) i
GROUP BY data_type;
