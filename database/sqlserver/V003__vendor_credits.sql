-- BatchScheduler schema V003: vendor credits (SQL Server).
--
-- vendor_credits: one row per vendor and credit window (window_start in Unix milliseconds, aligned
-- to multiples of the vendor's Window). `reserved` is what nodes have taken from the window's
-- budget, in blocks, before their calls: it never passes `credits` except by calls that reported a
-- higher actual cost. `used` is what calls spent, as reported, written in batches. Nodes delete
-- windows older than a day.
--
-- Guarded, so safe to run again. Shipped but not verified against a SQL Server here: see database/README.md.

IF OBJECT_ID(N'vendor_credits', N'U') IS NULL
BEGIN
  CREATE TABLE vendor_credits (
    vendor       nvarchar(200) NOT NULL,
    window_start bigint        NOT NULL,
    credits      int           NOT NULL,
    reserved     int           NOT NULL CONSTRAINT df_vendor_credits_reserved DEFAULT 0,
    used         int           NOT NULL CONSTRAINT df_vendor_credits_used DEFAULT 0,
    CONSTRAINT pk_vendor_credits PRIMARY KEY (vendor, window_start)
  );
END
GO
