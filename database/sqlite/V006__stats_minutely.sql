-- BatchScheduler schema V006: the per-minute aggregate the dashboard's charts read (SQLite).
--
-- stats_minutely: per minute (Unix milliseconds, a multiple of 60,000), data type and node, what
-- that node's attempts did in that minute: how many finished and how (succeeded, failed and will
-- retry, dead-lettered, expired, deferred), the due-to-start delay (count, sum, max) and the
-- duration (sum, max). Each node adds to its own rows in batches (every few seconds), so no row is
-- written by two nodes. Rows with node_id '*' are the cluster's backlog sample for that minute
-- (triggers due but not started), taken by whichever node claims the minute first. Charts sum over
-- nodes; nodes delete rows older than 7 days.
--
-- Safe to run again: it creates only what is missing.

CREATE TABLE IF NOT EXISTS stats_minutely (
  minute_start    bigint       NOT NULL,
  data_type       varchar(200) NOT NULL,
  node_id         varchar(200) NOT NULL,
  executions      integer      NOT NULL DEFAULT 0,
  succeeded       integer      NOT NULL DEFAULT 0,
  failed          integer      NOT NULL DEFAULT 0,
  dead_lettered   integer      NOT NULL DEFAULT 0,
  expired         integer      NOT NULL DEFAULT 0,
  deferred        integer      NOT NULL DEFAULT 0,
  delay_count     integer      NOT NULL DEFAULT 0,
  delay_sum_ms    bigint       NOT NULL DEFAULT 0,
  delay_max_ms    bigint       NOT NULL DEFAULT 0,
  duration_sum_ms bigint       NOT NULL DEFAULT 0,
  duration_max_ms bigint       NOT NULL DEFAULT 0,
  backlog         integer      NULL,
  CONSTRAINT pk_stats_minutely PRIMARY KEY (minute_start, data_type, node_id)
);
