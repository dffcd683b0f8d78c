-- BatchScheduler schema V011: runAt and pause (PostgreSQL).
--
-- work_items.run_at:        the item's requested first run (the API's and batch records' runAt), so
--                           trigger repair re-arms a never-run item at it rather than now.
-- work_items.paused_*:      a paused item (state 'paused'): when, by whom, why, and the state it had
--                           (paused_state), which it gets back on resume. An attempt running when the
--                           item was paused finishes; its outcome is kept in paused_state.
-- data_type_pauses:         who paused a data type, when and why. Whether it is paused is Quartz's
--                           qrtz_paused_trigger_grps (the data type is the trigger group); this table
--                           only explains it.
-- ck_work_items_state:      allows 'paused'.
--
-- Safe to run again.

ALTER TABLE work_items
  ADD COLUMN IF NOT EXISTS run_at        timestamptz  NULL,
  ADD COLUMN IF NOT EXISTS paused_at     timestamptz  NULL,
  ADD COLUMN IF NOT EXISTS paused_by     varchar(200) NULL,
  ADD COLUMN IF NOT EXISTS paused_reason text         NULL,
  ADD COLUMN IF NOT EXISTS paused_state  varchar(20)  NULL;

ALTER TABLE work_items DROP CONSTRAINT IF EXISTS ck_work_items_state;

ALTER TABLE work_items ADD CONSTRAINT ck_work_items_state CHECK (state IN
  ('never_run', 'in_flight', 'completed', 'retrying', 'deferred', 'dead_lettered', 'expired', 'paused'));

CREATE TABLE IF NOT EXISTS data_type_pauses (
  data_type  varchar(200) NOT NULL,
  paused_at  timestamptz  NOT NULL,
  paused_by  varchar(200) NOT NULL,
  reason     text         NULL,
  CONSTRAINT pk_data_type_pauses PRIMARY KEY (data_type)
);
