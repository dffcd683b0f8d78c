-- BatchScheduler schema V018: views for ops reading the tables by hand (PostgreSQL).
--
-- ops_work_items:         every work item, its times as timestamptz (no payload).
-- ops_schedule:           every work item with its Quartz trigger: the next run as a timestamp with
--                         the never-run lead undone (the API's nextRunAt), paused, calendar, cadence.
-- ops_in_flight:          items executing now, with their node's last check-in and liveness.
-- ops_stale_by_data_type: per data type, items whose last due run has not succeeded, and the oldest.
-- Columns and meanings: database/README.md, "Views". Nothing writes through them.
--
-- Quartz's times are .NET ticks (100 ns since 0001-01-01 UTC; 621355968000000000 at the Unix epoch).
-- A never-completed item's first next_fire_time is placed 30 days (25920000000000 ticks) before it is
-- due, before the trigger's start_time, which Quartz itself never does (WorkItemTriggers.DueTime):
-- due = next_fire_time < start_time ? next_fire_time + lead : next_fire_time.
-- A node is alive while its check-in is at most its interval plus 7.5 s old (Quartz's failure rule,
-- Health.NodeStatusQuery). work_items has no scheduler name: ops_schedule takes it from the data
-- type's job (qrtz_job_details, one per data type and scheduler name, a few rows), which also lets
-- each item's trigger be found by Quartz's primary key (sched_name first) rather than by a scan.
--
-- Safe to run again: CREATE OR REPLACE (a later version that changes a view's columns drops it first).

CREATE OR REPLACE VIEW ops_work_items AS
SELECT w.data_type,
       w.entity_id,
       w.tier,
       w.state,
       w.paused_state,
       w.attempt,
       w.updates_start,
       w.updates_end,
       CASE WHEN w.updates_end >= w.updates_start
            THEN extract(epoch FROM w.updates_end - w.updates_start)::double precision END AS last_run_seconds,
       w.last_error,
       w.batch_id,
       w.node_id,
       w.fence,
       w.run_at,
       (w.run_at IS NOT NULL AND w.run_at_fence = w.fence) AS run_at_owed,
       w.paused_at,
       w.paused_by,
       w.paused_reason,
       w.cancel_fence IS NOT NULL AS cancel_requested,
       w.cancel_by,
       w.cancel_reason,
       w.created_at,
       w.updated_at
FROM work_items w;

CREATE OR REPLACE VIEW ops_schedule AS
SELECT j.sched_name,
       w.data_type,
       w.entity_id,
       w.tier,
       w.state,
       w.paused_state,
       w.updates_end,
       CASE WHEN t.next_fire_time > 0 THEN timestamptz '1970-01-01 00:00:00+00' + interval '1 microsecond'
            * ((CASE WHEN t.next_fire_time < t.start_time THEN t.next_fire_time + 25920000000000 ELSE t.next_fire_time END
                - 621355968000000000) / 10) END AS next_run_at,
       CASE WHEN t.next_fire_time > 0 THEN timestamptz '1970-01-01 00:00:00+00' + interval '1 microsecond'
            * ((t.next_fire_time - 621355968000000000) / 10) END AS fire_order_at,
       coalesce(t.next_fire_time > 0 AND t.next_fire_time < t.start_time, false) AS never_run_lead,
       CASE WHEN t.prev_fire_time > 0 THEN timestamptz '1970-01-01 00:00:00+00' + interval '1 microsecond'
            * ((t.prev_fire_time - 621355968000000000) / 10) END AS prev_fire_at,
       t.trigger_state,
       (coalesce(t.trigger_state IN ('PAUSED', 'PAUSED_BLOCKED'), false) OR g.trigger_group IS NOT NULL OR w.paused_at IS NOT NULL) AS paused,
       g.trigger_group IS NOT NULL AS data_type_paused,
       g.paused_by AS data_type_paused_by,
       g.pause_reason AS data_type_paused_reason,
       CASE WHEN g.paused_at > 0 THEN timestamptz '1970-01-01 00:00:00+00' + interval '1 microsecond'
            * ((g.paused_at - 621355968000000000) / 10) END AS data_type_paused_at,
       t.calendar_name,
       lower(t.trigger_type) AS trigger_type,
       CASE WHEN c.cron_expression IS NOT NULL THEN 'cron:' || c.cron_expression
            WHEN s.repeat_count = 0 THEN 'once'
            WHEN s.repeat_count < 0 THEN CASE WHEN s.repeat_interval >= 86400000 THEN (s.repeat_interval / 86400000)::text || '.' ELSE '' END
                 || lpad((s.repeat_interval / 3600000 % 24)::text, 2, '0')
                 || ':' || lpad((s.repeat_interval / 60000 % 60)::text, 2, '0')
                 || ':' || lpad((s.repeat_interval / 1000 % 60)::text, 2, '0') END AS cadence,
       c.time_zone_id AS time_zone,
       t.priority,
       t.next_fire_time
FROM work_items w
LEFT JOIN qrtz_job_details j
  ON j.job_name = w.data_type
LEFT JOIN qrtz_triggers t
  ON t.sched_name = j.sched_name AND t.trigger_group = w.data_type AND t.trigger_name = w.entity_id
LEFT JOIN qrtz_simple_triggers s
  ON s.sched_name = t.sched_name AND s.trigger_group = t.trigger_group AND s.trigger_name = t.trigger_name
LEFT JOIN qrtz_cron_triggers c
  ON c.sched_name = t.sched_name AND c.trigger_group = t.trigger_group AND c.trigger_name = t.trigger_name
LEFT JOIN qrtz_paused_trigger_grps g
  ON g.sched_name = j.sched_name AND g.trigger_group = w.data_type;

CREATE OR REPLACE VIEW ops_in_flight AS
SELECT w.data_type,
       w.entity_id,
       w.attempt,
       w.fence,
       w.node_id,
       w.updates_start,
       extract(epoch FROM now() - w.updates_start)::double precision AS running_seconds,
       w.state = 'paused' AS paused,
       (SELECT min(f.instance_name) FROM qrtz_fired_triggers f
        WHERE f.trigger_group = w.data_type AND f.trigger_name = w.entity_id AND f.state = 'EXECUTING') AS quartz_executing_on,
       n.sched_name,
       CASE WHEN n.last_checkin_time > 0 THEN timestamptz '1970-01-01 00:00:00+00' + interval '1 microsecond'
            * ((n.last_checkin_time - 621355968000000000) / 10) END AS node_last_checkin,
       n.checkin_interval AS node_checkin_interval_ms,
       coalesce(timestamptz '1970-01-01 00:00:00+00' + interval '1 microsecond'
                * ((n.last_checkin_time - 621355968000000000) / 10 + (n.checkin_interval + 7500) * 1000) >= now(), false) AS node_alive
FROM work_items w
LEFT JOIN qrtz_scheduler_state n ON n.instance_name = w.node_id
WHERE w.state = 'in_flight' OR (w.state = 'paused' AND w.paused_state = 'in_flight');

CREATE OR REPLACE VIEW ops_stale_by_data_type AS
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
       bool_or(data_type_paused) AS data_type_paused
FROM (SELECT data_type, state, updates_end, next_run_at, data_type_paused,
             coalesce(tier = 'exclude', false) AS excluded,
             coalesce(CASE WHEN state = 'paused' THEN paused_state ELSE state END = 'in_flight', false) AS running,
             coalesce(CASE WHEN state = 'paused' THEN paused_state ELSE state END
                      IN ('retrying', 'deferred', 'dead_lettered', 'expired'), false) AS not_succeeded,
             coalesce(next_run_at <= now(), false) AS due
      FROM ops_schedule) i
GROUP BY data_type;
