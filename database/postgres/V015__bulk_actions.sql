-- BatchScheduler schema V015: bulk actions by filter (PostgreSQL).
--
-- bulk_actions: one row per POST /api/work-items/actions. The action runs in the background on the
--               node that accepted it (node_id), in chunks of items in (data_type, entity_id) order;
--               the row is its progress and, once ended, its record.
--   id             the action's id (GET /api/work-items/actions/{id}).
--   action         run, delete, tier, pause, resume or cancel.
--   filter         the filter as compact JSON ({"dataType":...,"state":...,"tier":...,"entityPrefix":...,"errorContains":...}).
--   tier, reason   the new tier (action tier) and the reason given (pause, cancel; optional for the others).
--   requested_by   who asked: the API key's name, or loopback.
--   state          running, done, failed (error says why) or interrupted (its node stopped first).
--   matched        items matching the filter when the action started (one count).
--   applied        items the action moved; skipped: no longer matching, gone, or already so when reached;
--   not_applied    items whose move was refused (e.g. paused or excluded for run).
--   last_data_type, last_entity_id  the last item reached (the keyset position).
--
-- Safe to run again.

CREATE TABLE IF NOT EXISTS bulk_actions (
  id             varchar(32)  NOT NULL,
  action         varchar(20)  NOT NULL,
  filter         text         NOT NULL,
  tier           varchar(50)  NULL,
  reason         text         NULL,
  requested_by   varchar(200) NOT NULL,
  node_id        varchar(200) NOT NULL,
  state          varchar(20)  NOT NULL,
  matched        bigint       NOT NULL DEFAULT 0,
  applied        bigint       NOT NULL DEFAULT 0,
  skipped        bigint       NOT NULL DEFAULT 0,
  not_applied    bigint       NOT NULL DEFAULT 0,
  last_data_type varchar(200) NULL,
  last_entity_id varchar(200) NULL,
  error          text         NULL,
  started_at     timestamptz  NOT NULL,
  finished_at    timestamptz  NULL,
  CONSTRAINT pk_bulk_actions PRIMARY KEY (id),
  CONSTRAINT ck_bulk_actions_state CHECK (state IN ('running', 'done', 'failed', 'interrupted'))
);

CREATE INDEX IF NOT EXISTS ix_bulk_actions_state_node ON bulk_actions (state, node_id);
