-- BatchScheduler schema V011: runAt and pause (SQLite).
-- See database/postgres/V011__run_at_and_pause.sql for what each column means.
--
-- SQLite cannot change a check constraint in place, so work_items is rebuilt with the new one
-- ('paused' allowed) and its indexes made again. The rebuild copies every column, so running the
-- script again (by hand, then `migrate`) loses nothing.

ALTER TABLE work_items ADD COLUMN run_at text NULL;
ALTER TABLE work_items ADD COLUMN paused_at text NULL;
ALTER TABLE work_items ADD COLUMN paused_by varchar(200) NULL;
ALTER TABLE work_items ADD COLUMN paused_reason text NULL;
ALTER TABLE work_items ADD COLUMN paused_state varchar(20) NULL;

CREATE TABLE work_items_v011 (
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
  fence         INTEGER      NOT NULL DEFAULT 0,
  run_at        text         NULL,
  paused_at     text         NULL,
  paused_by     varchar(200) NULL,
  paused_reason text         NULL,
  paused_state  varchar(20)  NULL,
  CONSTRAINT pk_work_items PRIMARY KEY (data_type, entity_id),
  CONSTRAINT ck_work_items_state CHECK (state IN
    ('never_run', 'in_flight', 'completed', 'retrying', 'deferred', 'dead_lettered', 'expired', 'paused'))
);

INSERT INTO work_items_v011 (data_type, entity_id, tier, payload, state, attempt, updates_start, updates_end, last_error,
                             batch_id, node_id, created_at, updated_at, fence, run_at, paused_at, paused_by, paused_reason, paused_state)
SELECT data_type, entity_id, tier, payload, state, attempt, updates_start, updates_end, last_error,
       batch_id, node_id, created_at, updated_at, fence, run_at, paused_at, paused_by, paused_reason, paused_state
FROM work_items;

DROP TABLE work_items;

ALTER TABLE work_items_v011 RENAME TO work_items;

CREATE INDEX IF NOT EXISTS ix_work_items_state ON work_items (state);

CREATE INDEX IF NOT EXISTS ix_work_items_data_type_updates_end ON work_items (data_type, updates_end);

CREATE INDEX IF NOT EXISTS ix_work_items_data_type_state_tier ON work_items (data_type, state, tier);

CREATE INDEX IF NOT EXISTS ix_work_items_batch_id_state ON work_items (batch_id, state) WHERE batch_id IS NOT NULL;
