-- BatchScheduler schema V009: the fencing token of a work item's attempts (PostgreSQL).
--
-- work_items.fence grows with every start of the item: the start statement sets it to
-- GREATEST(fence + 1, <start time in microseconds since the Unix epoch>) and hands it to the attempt.
-- Every later write about that attempt (its end, failure, retry, deferral, state) is conditional on
-- the row still carrying that fence, so a node that lost the item (frozen, partitioned, declared dead)
-- can never write over the run that replaced it. Executors see it (WorkItemContext.Fence) and the http
-- executor sends it as the BatchScheduler-Fence header, so a downstream service can refuse a stale writer.
-- Starting from the start time keeps it growing across a delete and re-registration of the same item.
--
-- Safe to run again.

ALTER TABLE work_items ADD COLUMN IF NOT EXISTS fence bigint NOT NULL DEFAULT 0;
