-- BatchScheduler schema V013: the data types each node executes (node pools, issue 22) (PostgreSQL).
--
-- node_data_types: one row per worker node: the data types it executes (Cluster:DataTypes, or every
--                  configured one), comma-separated, as it published them at start and refreshes every
--                  minute (updated_at: .NET ticks, UTC). Whether the node is alive is Quartz's
--                  qrtz_scheduler_state; a row not refreshed for an hour is removed by the next node to publish.
--
-- Safe to run again: it creates only what is missing.

CREATE TABLE IF NOT EXISTS node_data_types (
  node_id     varchar(200) NOT NULL,
  data_types  text         NOT NULL,
  updated_at  bigint       NOT NULL,
  CONSTRAINT pk_node_data_types PRIMARY KEY (node_id)
);
