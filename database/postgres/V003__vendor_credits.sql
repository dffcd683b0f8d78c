-- BatchScheduler schema V003: vendor credits (PostgreSQL).
--
-- vendor_credits: one row per vendor and credit window (window_start in Unix milliseconds, aligned
-- to multiples of the vendor's Window). `reserved` is what nodes have taken from the window's
-- budget, in blocks, before their calls: it never passes `credits` except by calls that reported a
-- higher actual cost. `used` is what calls spent, as reported, written in batches. Nodes delete
-- windows older than a day.
--
-- Safe to run again: it creates only what is missing.

CREATE TABLE IF NOT EXISTS vendor_credits (
  vendor       varchar(200) NOT NULL,
  window_start bigint       NOT NULL,
  credits      integer      NOT NULL,
  reserved     integer      NOT NULL DEFAULT 0,
  used         integer      NOT NULL DEFAULT 0,
  CONSTRAINT pk_vendor_credits PRIMARY KEY (vendor, window_start)
);
