-- BatchScheduler schema V015: bulk actions by filter (SQLite).
-- See database/postgres/V015__bulk_actions.sql for what each column means.
-- Timestamps are TEXT holding ISO-8601 in UTC. Safe to run again.

CREATE TABLE IF NOT EXISTS bulk_actions (
  id             varchar(32)  NOT NULL,
  action         varchar(20)  NOT NULL,
  filter         text         NOT NULL,
  tier           varchar(50)  NULL,
  reason         text         NULL,
  requested_by   varchar(200) NOT NULL,
  node_id        varchar(200) NOT NULL,
  state          varchar(20)  NOT NULL,
  matched        INTEGER      NOT NULL DEFAULT 0,
  applied        INTEGER      NOT NULL DEFAULT 0,
  skipped        INTEGER      NOT NULL DEFAULT 0,
  not_applied    INTEGER      NOT NULL DEFAULT 0,
  last_data_type varchar(200) NULL,
  last_entity_id varchar(200) NULL,
  error          text         NULL,
  started_at     text         NOT NULL,
  finished_at    text         NULL,
  CONSTRAINT pk_bulk_actions PRIMARY KEY (id),
  CONSTRAINT ck_bulk_actions_state CHECK (state IN ('running', 'done', 'failed', 'interrupted'))
);

CREATE INDEX IF NOT EXISTS ix_bulk_actions_state_node ON bulk_actions (state, node_id);
