-- BatchScheduler schema V011: runAt and pause (PostgreSQL).
--
-- work_items.run_at:        the item's requested first run (the API's and batch records' runAt), so
--                           trigger repair re-arms a never-run item at it rather than now.
-- work_items.paused_*:      a paused item (state 'paused'): when, by whom, why, and the state it had
--                           (paused_state), which it gets back on resume. An attempt running when the
--                           item was paused finishes; its outcome is kept in paused_state.
-- A paused data type needs nothing here: it is Quartz's paused trigger group (qrtz_paused_trigger_grps,
-- which records pause_reason, paused_by and paused_at itself).
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
