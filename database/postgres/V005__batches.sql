-- BatchScheduler schema V005: batches from files (PostgreSQL).
--
-- batches:        one row per submitted file: its status (validating, in_progress, completed,
--                 partial_success, failed, expired, cancelled, archived), the final status kept in
--                 `outcome` once archived, the parameters and timings for the audit, how far its
--                 records have been registered as work items (`registered_line`, so another node can
--                 resume), and the completion callback's delivery.
-- batch_records:  one row per record of the file (valid or not), by line number: the batch's own
--                 account of every record. `outcome` is NULL while a valid record's work item has not
--                 finished, then succeeded / failed / expired / cancelled; invalid records say why.
--                 Results, errors and the verification read these rows; archiving keeps them, without
--                 payloads, after the batch's work_items rows are pruned.
-- work_items (batch_id, state) replaces V002's index on batch_id alone (its prefix): batch progress
-- counts a batch's items by state.
--
-- Safe to run again: it creates only what is missing.

CREATE TABLE IF NOT EXISTS batches (
  id                    varchar(64)  NOT NULL,
  data_type             varchar(200) NOT NULL,
  status                varchar(20)  NOT NULL,
  outcome               varchar(20)  NULL,
  content_type          varchar(200) NOT NULL,
  bytes                 bigint       NOT NULL DEFAULT 0,
  total                 integer      NOT NULL DEFAULT 0,
  invalid               integer      NOT NULL DEFAULT 0,
  registered_line       bigint       NOT NULL DEFAULT 0,
  deadline              timestamptz  NULL,
  callback_url          text         NULL,
  callback_attempts     integer      NOT NULL DEFAULT 0,
  callback_next_at      timestamptz  NULL,
  callback_delivered_at timestamptz  NULL,
  callback_last_error   text         NULL,
  error                 text         NULL,
  created_at            timestamptz  NOT NULL,
  validated_at          timestamptz  NULL,
  finished_at           timestamptz  NULL,
  archived_at           timestamptz  NULL,
  updated_at            timestamptz  NOT NULL,
  CONSTRAINT pk_batches PRIMARY KEY (id),
  CONSTRAINT ck_batches_status CHECK (status IN
    ('validating', 'in_progress', 'completed', 'partial_success', 'failed', 'expired', 'cancelled', 'archived'))
);

CREATE INDEX IF NOT EXISTS ix_batches_status ON batches (status);

CREATE INDEX IF NOT EXISTS ix_batches_created_at ON batches (created_at);

CREATE TABLE IF NOT EXISTS batch_records (
  batch_id  varchar(64)  NOT NULL,
  line      bigint       NOT NULL,
  entity_id varchar(200) NULL,
  data_type varchar(200) NULL,
  tier      varchar(50)  NULL,
  payload   text         NULL,
  outcome   varchar(20)  NULL,
  reason    text         NULL,
  CONSTRAINT pk_batch_records PRIMARY KEY (batch_id, line)
);

CREATE INDEX IF NOT EXISTS ix_work_items_batch_id_state ON work_items (batch_id, state) WHERE batch_id IS NOT NULL;

DROP INDEX IF EXISTS ix_work_items_batch_id;
