-- BatchScheduler schema V014: cancel of a running attempt (PostgreSQL).
--
-- work_items.cancel_fence:  set by POST /api/work-items/{dataType}/{entityId}/cancel to the fence of the
--                           attempt to cancel (the item's fence while it was in flight); null when no
--                           cancel is asked. The node running that attempt reads it (at most one second
--                           later), cancels the attempt's token and writes the outcome, which clears it.
-- work_items.cancel_by, cancel_reason: who asked (an API key's name, `loopback` or `cli`) and why.
-- ix_work_items_cancel:     the rows with a cancel asked, by owner: the running nodes read only these.
--
-- Safe to run again.

ALTER TABLE work_items
  ADD COLUMN IF NOT EXISTS cancel_fence  bigint       NULL,
  ADD COLUMN IF NOT EXISTS cancel_by     varchar(200) NULL,
  ADD COLUMN IF NOT EXISTS cancel_reason text         NULL;

CREATE INDEX IF NOT EXISTS ix_work_items_cancel ON work_items (node_id) WHERE cancel_fence IS NOT NULL;
