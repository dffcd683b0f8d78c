-- BatchScheduler schema V006: the per-minute aggregate the dashboard's charts read (SQL Server).
--
-- stats_minutely: per minute (Unix milliseconds, a multiple of 60,000), data type and node, what
-- that node's attempts did in that minute; rows with node_id '*' are the cluster's backlog sample.
-- See the PostgreSQL script for the full description.
--
-- Guarded, so safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'stats_minutely', N'U') IS NULL
BEGIN
  CREATE TABLE stats_minutely (
    minute_start    bigint        NOT NULL,
    data_type       nvarchar(200) NOT NULL,
    node_id         nvarchar(200) NOT NULL,
    executions      int           NOT NULL CONSTRAINT df_stats_minutely_executions DEFAULT 0,
    succeeded       int           NOT NULL CONSTRAINT df_stats_minutely_succeeded DEFAULT 0,
    failed          int           NOT NULL CONSTRAINT df_stats_minutely_failed DEFAULT 0,
    dead_lettered   int           NOT NULL CONSTRAINT df_stats_minutely_dead_lettered DEFAULT 0,
    expired         int           NOT NULL CONSTRAINT df_stats_minutely_expired DEFAULT 0,
    deferred        int           NOT NULL CONSTRAINT df_stats_minutely_deferred DEFAULT 0,
    delay_count     int           NOT NULL CONSTRAINT df_stats_minutely_delay_count DEFAULT 0,
    delay_sum_ms    bigint        NOT NULL CONSTRAINT df_stats_minutely_delay_sum_ms DEFAULT 0,
    delay_max_ms    bigint        NOT NULL CONSTRAINT df_stats_minutely_delay_max_ms DEFAULT 0,
    duration_sum_ms bigint        NOT NULL CONSTRAINT df_stats_minutely_duration_sum_ms DEFAULT 0,
    duration_max_ms bigint        NOT NULL CONSTRAINT df_stats_minutely_duration_max_ms DEFAULT 0,
    backlog         int           NULL,
    CONSTRAINT pk_stats_minutely PRIMARY KEY (minute_start, data_type, node_id)
  );
END
GO
