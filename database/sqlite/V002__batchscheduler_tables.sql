-- BatchScheduler schema V002: BatchScheduler's own tables (SQLite).
--
-- work_items: one row per (data type, entity) pair, the truth about it (see database/README.md).
-- failures:   one row per failed attempt, triaged by ops with the done flag.
--
-- Timestamps are TEXT holding ISO-8601 in UTC; booleans are INTEGER 0/1.
-- Every statement creates only what is missing and nothing is dropped, so the script is safe to run by
-- hand (sqlite3 batchscheduler.db < V002__batchscheduler_tables.sql) and again later by
-- `Scheduler migrate`.

CREATE TABLE IF NOT EXISTS work_items (
  data_type     varchar(200) NOT NULL,
  entity_id     varchar(200) NOT NULL,
  tier          varchar(50)  NULL,
  payload       text         NULL,
  state         varchar(20)  NOT NULL DEFAULT 'never_run',
  attempt       integer      NOT NULL DEFAULT 0,
  updates_start text         NULL,
  updates_end   text         NULL,
  last_error    text         NULL,
  batch_id      varchar(64)  NULL,
  node_id       varchar(200) NULL,
  created_at    text         NOT NULL,
  updated_at    text         NOT NULL,
  CONSTRAINT pk_work_items PRIMARY KEY (data_type, entity_id),
  CONSTRAINT ck_work_items_state CHECK (state IN
    ('never_run', 'in_flight', 'completed', 'retrying', 'deferred', 'dead_lettered', 'expired'))
);

CREATE INDEX IF NOT EXISTS ix_work_items_data_type_state ON work_items (data_type, state);

CREATE INDEX IF NOT EXISTS ix_work_items_state ON work_items (state);

CREATE INDEX IF NOT EXISTS ix_work_items_batch_id ON work_items (batch_id) WHERE batch_id IS NOT NULL;

CREATE INDEX IF NOT EXISTS ix_work_items_data_type_updates_end ON work_items (data_type, updates_end);

CREATE TABLE IF NOT EXISTS failures (
  id             INTEGER      PRIMARY KEY AUTOINCREMENT,
  data_type      varchar(200) NOT NULL,
  entity_id      varchar(200) NOT NULL,
  attempt        integer      NOT NULL,
  node_id        varchar(200) NOT NULL,
  failed_at      text         NOT NULL,
  exception_type varchar(500) NOT NULL,
  message        text         NOT NULL,
  detail         text         NULL,
  done           integer      NOT NULL DEFAULT 0 CONSTRAINT ck_failures_done CHECK (done IN (0, 1)),
  done_at        text         NULL
);

CREATE INDEX IF NOT EXISTS ix_failures_done_failed_at ON failures (done, failed_at);

CREATE INDEX IF NOT EXISTS ix_failures_data_type_entity_id_failed_at ON failures (data_type, entity_id, failed_at);

CREATE INDEX IF NOT EXISTS ix_failures_failed_at ON failures (failed_at);
