-- BatchScheduler schema V016: the audit trail of changing API requests (SQLite).
--
-- audit_log: one row per changing request (anything but GET, HEAD, OPTIONS) to /api from a caller
--            that authenticated (a key, or loopback without keys), single or bulk, answered or
--            refused: when (recorded_at, UTC), who (the key's Admin:ApiKeys:<i>:Name, or loopback),
--            action (method and route pattern, e.g. 'PUT /api/work-items/{dataType}/{entityId}'),
--            target (e.g. 'daily-prices/AAPL', or a bulk request's filter), item_count and detail (what
--            the handler noted), the answer's HTTP status, and the node that served it.
--            GET /api/audit lists it newest first (by id).
--
-- Timestamps are TEXT holding ISO-8601 in UTC. Safe to run again: it creates only what is missing.

CREATE TABLE IF NOT EXISTS audit_log (
  id          INTEGER       PRIMARY KEY AUTOINCREMENT,
  recorded_at text          NOT NULL,
  who         varchar(200)  NOT NULL,
  action      varchar(300)  NOT NULL,
  target      varchar(1000) NULL,
  item_count  bigint        NULL,
  detail      varchar(2000) NULL,
  status      integer       NOT NULL,
  node_id     varchar(200)  NOT NULL
);

CREATE INDEX IF NOT EXISTS ix_audit_log_recorded_at ON audit_log (recorded_at);

CREATE INDEX IF NOT EXISTS ix_audit_log_who_id ON audit_log (who, id);
