using System.Data;
using System.Data.Common;
using BatchScheduler.Alerts;
using BatchScheduler.Audit;
using BatchScheduler.Batches;
using BatchScheduler.BulkActions;
using BatchScheduler.Coordination;
using BatchScheduler.Credits;
using BatchScheduler.Failures;
using BatchScheduler.Health;
using BatchScheduler.Hosting;
using BatchScheduler.Lifecycle;
using BatchScheduler.Limits;
using BatchScheduler.Observability;
using BatchScheduler.QuartzTables;
using BatchScheduler.Stats;
using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Storage.SqlServer;

/// <summary>
/// Every SQL Server statement BatchScheduler's own code issues, as the code builds it: the engine is
/// composed for a SQL Server store (<c>EngineComposition</c>, provider <c>SqlServer</c>, so the SQL Server
/// dialect and every provider branch take their SQL Server side) whose connections reach no server but
/// record each command's text as it executes (<see cref="RecordingConnection"/>). <see cref="IssueAsync"/> calls
/// every method of the stores that issues SQL, with arguments and answers that take each branch that
/// changes the SQL text.
/// </summary>
/// <remarks>
/// Completeness is not left to this list: <c>SqlServerStatementTests.EverySqlTextInTheSource_IsIssuedOrNotSqlServers</c>
/// finds every SQL text in the product's source (Roslyn, <see cref="SqlTextsInSource"/>) and fails for one
/// that no statement recorded here contains and that is not listed as another provider's
/// (<see cref="NotSqlServer"/>). The migration lock's T-SQL is sent by <c>SqlServerMigrationTarget</c>
/// through its own <c>SqlConnection</c>, so it is read from the class's constants instead.
/// </remarks>
internal static class SqlServerStatements
{
    private const string DataType = "daily-prices";

    /// <summary>The recorded statements (each distinct text once) and the errors the paths met after recording (for diagnosis).</summary>
    public static async Task<(IReadOnlyList<string> Statements, IReadOnlyList<string> Errors)> IssueAsync()
    {
        var record = new SqlRecord();
        var errors = new List<string>();
        await using var provider = Compose(record);
        var now = new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
        var calls = Calls(provider, record, now);
        foreach (var (name, call) in calls)
        {
            record.Answer = _ => null;
            record.RowsAffected = 1;
            try
            {
                await call();
            }
#pragma warning disable CA1031 // a path that stops after its statements (no server answers) still recorded them
            catch (Exception e)
#pragma warning restore CA1031
            {
                errors.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        var statements = record.Statements.Concat(MigrationLock()).Distinct(StringComparer.Ordinal).ToList();
        return (statements, errors);
    }

    private static ServiceProvider Compose(SqlRecord record)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:NodeId"] = "node-a",
            ["Cluster:SchedulerName"] = "BatchScheduler",
            ["Vendors:feed:Credits"] = "100",
            ["Vendors:feed:Window"] = "00:01:00",
            [$"DataTypes:{DataType}:Executor"] = "noop",
            [$"DataTypes:{DataType}:Vendor"] = "feed",
            [$"DataTypes:{DataType}:Cadence:first"] = "00:01:00",
            ["Alerts:WebhookUrl"] = "http://127.0.0.1:9/alerts",
            ["DataTypes:reminders:Executor"] = "noop",
            ["DataTypes:reminders:Cadence:once"] = "",
            ["DataTypes:reminders:Retention:Completed"] = "7.00:00:00",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<TimeProvider>(TimeProvider.System);
        EngineComposition.Add(services, configuration, bs => bs.UseStore(new RecordingSqlServerDriver(record), "Server=recording;Database=batch"));
        return services.BuildServiceProvider();
    }

    /// <summary>The T-SQL of the migration lock, as <c>SqlServerMigrationTarget</c> and its <c>HeldLock</c> send it.</summary>
    private static IEnumerable<string> MigrationLock() =>
        typeof(SqlServerMigrationTarget).GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(string) && f.Name.EndsWith("Sql", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!);

    private static DataTable Row(params (string Column, object? Value)[] columns)
    {
        var table = new DataTable();
        foreach (var (column, value) in columns)
            table.Columns.Add(column, value?.GetType() ?? typeof(string));
        table.Rows.Add([.. columns.Select(c => c.Value ?? DBNull.Value)]);
        return table;
    }

    private static List<(string Name, Func<Task> Call)> Calls(ServiceProvider provider, SqlRecord record, DateTimeOffset now)
    {
        var ct = CancellationToken.None;
        T Get<T>() where T : notnull => ActivatorUtilities.GetServiceOrCreateInstance<T>(provider); // the ASP.NET Core package registers some (AuditStore)
        var connections = Get<ConnectionFactory>();
        var scheduler = Get<IOptions<BatchScheduler.Configuration.ClusterOptions>>().Value.SchedulerName;
        var ids = new[] { "AAPL", "MSFT" };
        var calls = new List<(string, Func<Task>)>();
        void Add(string name, Func<Task> call) => calls.Add((name, call));

        // Work items: registration (SQL Server's MERGE), starts, ends, listings.
        var items = Get<WorkItemStore>();
        Add("register", () => items.RegisterAsync(DataType, [new("AAPL", "first", "{}", "b1", now), new("MSFT", null, null)], now, null, ct));
        Add("existing", () => items.ExistingEntityIdsAsync(DataType, ids, ct));
        Add("without trigger", () => items.FindWithoutTriggerAsync(DataType, "node-a", now, ct));
        Add("interrupted", () => items.FindInterruptedAsync(DataType, "node-a", now, ct));
        Add("begin", () => items.BeginAttemptAsync(DataType, "AAPL", 1, "node-a", false, now, ct));
        Add("begin refused", () => items.BeginAttemptAsync(DataType, "AAPL", 1, "node-a", false, now, ct, now.AddMinutes(-1)));
        Add("begin many", () => items.BeginAttemptsAsync([new(DataType, "AAPL", 1, now), new(DataType, "MSFT", 1, now, now.AddMinutes(-1))], "node-a", ct));
        Add("complete many", () => items.CompleteManyAsync([new(DataType, "AAPL", now, 5), new(DataType, "MSFT", now, 6)], ct));
        Add("complete", () => items.CompleteAsync(new(DataType, "AAPL", now, 5), ct));
        Add("get", () => items.GetAsync(DataType, "AAPL", ct));
        Add("list after", () => items.ListAfterAsync(new(DataType, "never_run", "first", 1, 10), "AA", DataType, "AAPL", 10, ct));
        Add("list after type", () => items.ListAfterAsync(new(null, null, null, 1, 10), null, DataType, "AAPL", 10, ct));
        Add("list", () => items.ListAsync(new(DataType, "never_run", "first", 2, 10), ct));
        Add("retier", () =>
        {
            record.Answer = sql => sql.Contains("owed_run_at", StringComparison.Ordinal)
                ? Row(("entity_id", "AAPL"), ("state", "completed"), ("updates_end", now), ("node_id", null), ("owed_run_at", null)) : null;
            return items.RetierAsync(DataType, ids, "second", now, ct);
        });
        Add("delete", () => items.DeleteAsync(DataType, "AAPL", ct));

        // One item's row under its lock, and many items' rows (pause, resume, delete, cancel, failures).
        var rows = Get<ItemRows>();
        var failure = new FailureRecord(DataType, "AAPL", 1, "node-a", now, "System.Exception", "boom", "at …");
        async Task OnRow(Func<LockedRow, Task> act)
        {
            record.Answer = sql => sql.Contains("owner_alive", StringComparison.Ordinal)
                ? Row(("state", "in_flight"), ("tier", "first"), ("fence", 5L), ("node_id", "node-a"), ("updates_start", now), ("updates_end", null),
                    ("owner_alive", 1), ("paused_at", null))
                : null;
            await using var row = await rows.OpenAsync(DataType, "AAPL", now, ct);
            await act(row);
            await row.CommitAsync(ct);
        }
        Add("row state", () => OnRow(r => r.SetStateAsync("deferred", "why", 2, now, ct)));
        Add("row failure", () => OnRow(r => r.RecordFailureAsync(failure, "retrying", "why", ct)));
        Add("row cancel", () => OnRow(r => r.RecordCancelAsync(failure, "ops", "why", 1, ct)));
        Add("row request cancel", () => OnRow(r => r.RequestCancelAsync("ops", "why", now, ct)));
        Add("row pause", () => OnRow(r => r.PauseAsync("ops", "why", now, ct)));
        Add("row resume", () => OnRow(r => r.ResumeAsync(now, ct)));
        Add("row delete", () => OnRow(r => r.DeleteAsync(ct)));
        async Task OnRows(Func<LockedRows, Task> act)
        {
            record.Answer = sql => sql.Contains("has_trigger", StringComparison.Ordinal)
                ? Row(("entity_id", "AAPL"), ("has_trigger", 1), ("pending", 0), ("firing", 0), ("paused", 0), ("tier", "first"))
                : null;
            await using var many = await rows.LockManyAsync(DataType, ids, ct, withRecoveries: true);
            await act(many);
            await many.CommitAsync(ct);
        }
        Add("rows pause", () => OnRows(r => r.PauseAsync(DataType, ids, "ops", "why", now, ct)));
        Add("rows resume", () => OnRows(r => r.ResumeAsync(DataType, ids, now, ct)));
        Add("rows delete", () => OnRows(r => r.DeleteAsync(DataType, ids, ct)));
        Add("defer excluded", () => rows.DeferInterruptedExcludedAsync(DataType, "node-a", "why", now, ct));
        Add("paused items", () => rows.PausedItemsAsync(DataType, ct));

        // Quartz's tables, as BatchScheduler's own statements touch them.
        Add("quiet hours on", () => QuietHoursTriggerRows.SetCalendarAsync(connections, scheduler, DataType, "quiet", ct));
        Add("quiet hours off", () => QuietHoursTriggerRows.SetCalendarAsync(connections, scheduler, DataType, null, ct));
        Add("armed job data", () => ArmedTriggerRows.ClearJobDataAsync(connections, scheduler, DataType, ids, ct));
        Add("armed ahead", () => ArmedTriggerRows.MoveAheadAsync(connections, scheduler, DataType, [("AAPL", 1, 2)], ct));
        Add("recovered ahead", async () =>
        {
            await using var connection = await connections.OpenAsync(ct);
            await RecoveredFirings.MoveAheadAsync(connection, connections.Provider, scheduler, now, ct);
        });
        Add("stuck triggers", () => Get<StuckTriggerRepair>().RepairAsync(ct));
        Add("both limits", () => BothLimitsCountAsync(record));

        // Retention: the chunked deletes, and the completed one-shot items it purges through the lifecycle.
        Add("retention", () =>
        {
            record.Answer = sql => sql.StartsWith("SELECT work_items.entity_id FROM work_items WHERE", StringComparison.Ordinal) ? Row(("entity_id", "AAPL")) : null;
            return Get<BatchScheduler.Retention.RetentionPass>().RunAsync(ct);
        });

        // Batches.
        var batches = Get<BatchStore>();
        var batch = new BatchRow("b1", DataType, "in_progress", null, "text/csv", 10, 2, 0, 0, now, "http://127.0.0.1:9/cb", 0, now, null, null, null,
            now, now, null, null, now);
        Add("batch create", () => batches.CreateAsync("b1", DataType, "text/csv", now, "http://127.0.0.1:9/cb", now, ct));
        Add("batch records", () => batches.AddRecordsAsync("b1", [new(1, "AAPL", DataType, "first", "{}", null, null, now), new(2, null, null, null, null, "invalid", "bad")], 10, now, ct));
        Add("batch validated", () => batches.FinishValidationAsync("b1", 2, 1, 10, now, ct));
        Add("batch failed validation", () => batches.FailValidationAsync("b1", "bad file", now, ct));
        Add("batch get", () => batches.GetAsync("b1", ct));
        Add("batch list", () => batches.ListAsync("in_progress", 2, 10, ct));
        Add("batch attention", () => batches.ListNeedingAttentionAsync(now, now.AddDays(-7), ct));
        Add("batch to register", () => batches.RecordsToRegisterAsync("b1", 0, 10, ct));
        Add("batch advance", () => batches.AdvanceRegisteredAsync("b1", 0, 2, now, ct));
        Add("batch settle", () => batches.SettleFinishedAsync("b1", now, ct));
        Add("batch any not done", () => batches.AnyItemNotDoneAsync("b1", ct));
        Add("batch unfinished", () => batches.CountUnfinishedItemsAsync("b1", now, ct));
        Add("batch settle unlinked", () => batches.SettleUnlinkedAsync("b1", "failed", "why", ct));
        Add("batch pending", () => batches.PendingItemsAsync("b1", now, ct));
        Add("batch detach", () => batches.DetachPendingItemAsync("b1", DataType, "AAPL", delete: false, ct));
        Add("batch detach delete", () => batches.DetachPendingItemAsync("b1", DataType, "AAPL", delete: true, ct));
        Add("batch finish", () => batches.FinishAsync("b1", "succeeded", now, ct));
        Add("batch close", () => batches.CloseAsync("b1", "cancelled", now, ct));
        foreach (var status in new[] { "in_progress", "cancelled" })
        {
            Add($"batch count {status}", () =>
            {
                record.Answer = sql => sql.Contains("GROUP BY outcome", StringComparison.Ordinal) ? Row(("outcome", null), ("n", 3L)) : null;
                return batches.CountAsync(batch with { Status = status }, ct);
            });
        }
        Add("batch states", () => batches.ItemStatesAsync("b1", ct));
        Add("batch records out", () => batches.RecordsAsync(batch, 0, 10, ct));
        Add("batch claim callback", () => batches.ClaimCallbackAsync(batch, now, ct));
        Add("batch callback attempted", () => batches.CallbackAttemptedAsync("b1", now, "refused", now, ct));
        Add("batch with triggers", () => batches.ItemsWithTriggersAsync("b1", scheduler, ct));
        Add("batch archive", () => batches.ArchiveAsync("b1", now, ct));

        // Bulk actions.
        var bulk = Get<BulkActionStore>();
        var all = new BulkActionFilter(DataType, "failed", "first", "AA", "timeout");
        var none = new BulkActionFilter(null, null, null, null, null);
        Add("bulk count", () => bulk.CountAsync(all, ct));
        Add("bulk count none", () => bulk.CountAsync(none, ct));
        Add("bulk chunk", () => bulk.NextChunkAsync(all, new(DataType, "AAPL"), 10, ct));
        Add("bulk chunk any type", () => bulk.NextChunkAsync(none, new(DataType, "AAPL"), 10, ct));
        Add("bulk stored", () => bulk.CountStoredAsync(DataType, ids, ct));
        var action = new BulkActionStatus("a1", "run", all, null, "why", "ops", "node-a", "running", 2, 0, 0, 0, null, now, null);
        Add("bulk insert", () => bulk.InsertAsync(action, ct));
        Add("bulk progress", () => bulk.ProgressAsync("a1", new(1, 1, 0), new(DataType, "MSFT"), ct));
        Add("bulk finish", () => bulk.FinishAsync("a1", "done", null, now, ct));
        Add("bulk interrupt", () => bulk.InterruptAbandonedAsync("node-a", includeOwn: true, now, ct));
        Add("bulk interrupt others", () => bulk.InterruptAbandonedAsync("node-a", includeOwn: false, now, ct));
        Add("bulk get", () => bulk.GetAsync("a1", ct));

        // Failures, audit, stats, alerts, vendors, nodes, health.
        var failures = Get<FailureStore>();
        Add("failures list", () => failures.ListAsync(false, DataType, "AAPL", 2, 10, ct));
        Add("failures done", () => failures.MarkDoneAsync(1, ct));
        Add("failures all done", () => failures.MarkAllDoneAsync(DataType, "AAPL", now, ct));
        var audit = Get<AuditStore>();
        Add("audit add", () => audit.AddAsync(new(0, now, "ops", "PUT /api/x", "t", 1, "d", 200, "node-a"), ct));
        Add("audit list", () => audit.ListAsync(new("ops", "PUT /api/x", now, 10, 10), ct));
        var stats = Get<MinuteStats>();
        Add("stats flush", () =>
        {
            stats.Record(DataType, FiringOutcome.Succeeded, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
            return stats.FlushAsync(ct);
        });
        Add("stats round", () => stats.RoundAsync(ct));
        Add("stats backlog", () =>
        {
            record.Answer = sql => sql.Contains("GROUP BY trigger_group", StringComparison.Ordinal) ? Row(("trigger_group", DataType), ("n", 3)) : null;
            return stats.SampleBacklogAsync(MinuteStats.MinuteOf(now), ct);
        });
        Add("stats query", () => Get<StatsQuery>().MinutelyAsync(DataType, now.AddHours(-1), now, ct));
        Add("failure rate", () =>
        {
            record.Answer = sql => sql.Contains("SUM(executions)", StringComparison.Ordinal)
                ? Row(("minute_start", MinuteStats.MinuteOf(now)), ("data_type", DataType), ("executions", 100L), ("succeeded", 0L), ("failed", 100L),
                    ("dead_lettered", 0L), ("expired", 0L), ("deferred", 0L), ("delay_count", 0L), ("delay_sum_ms", 0L), ("delay_max_ms", 0L),
                    ("duration_sum_ms", 0L), ("duration_max_ms", 0L), ("backlog", 0L))
                : null;
            return Get<FailureRateMonitor>().CheckAsync(ct);
        });
        var credits = Get<VendorCredits>();
        Add("credits reserve", async () =>
        {
            record.RowsAffected = 0; // the block refused: the smaller lease follows
            await credits.TryReserveAsync("feed", 1, ct);
        });
        Add("credits settle", async () =>
        {
            await credits.SettleAsync(new CreditReservation("feed", VendorCredits.WindowStart(TimeSpan.FromMinutes(1), now) - 60_000, 1), 5, ct);
            await credits.FlushAsync(ct);
        });
        Add("credits prune", () => (Task)typeof(VendorCredits).GetMethod("PruneAsync", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .Invoke(credits, [now, ct])!);
        Add("vendors", () => Get<VendorsQuery>().ListAsync(ct));
        Add("nodes", () => Get<NodeStatusQuery>().ListAsync(ct));
        Add("node data types", () => Get<NodeDataTypesQuery>().LiveNodesAsync(ct));
        Add("node data types published", () => Hosted<NodeDataTypesPublisher>(provider).StartAsync(ct));
        Add("health", () => Get<HealthQuery>().GetAsync(ct));
        Add("readiness", () => Get<DatabaseReadinessCheck>().CheckHealthAsync(new(), ct));
        Add("predecessor", () => Hosted<PredecessorRelease>(provider).StartAsync(ct));
        Add("checkout", () => Hosted<ClusterCheckoutService>(provider).StopAsync(ct));
        var lease = Hosted<AttemptLeaseWatch>(provider);
        Add("cancel asked", () =>
        {
            record.Answer = sql => sql.Contains("cancel_fence IS NOT NULL", StringComparison.Ordinal)
                ? Row(("data_type", DataType), ("entity_id", "AAPL"), ("cancel_fence", 5L), ("cancel_by", "ops"), ("cancel_reason", null))
                : null;
            return lease.CancelAskedAsync(ct);
        });
        Add("cancel superseded", () =>
        {
            var claim = Get<RunningItems>().TryClaim(DataType, "AAPL", ct)!;
            claim.Started(5);
            return lease.CancelSupersededAsync(ct);
        });
        return calls;
    }

    /// <summary>A hosted service of the composition, made from its services (resolving them all would start building Quartz's).</summary>
    private static T Hosted<T>(IServiceProvider provider) => ActivatorUtilities.CreateInstance<T>(provider);

    /// <summary>
    /// The both-limits count <c>SqlServerBothLimitsDelegate</c> adds to Quartz's in-flight count: its template with
    /// Quartz's default table prefix for <c>{0}</c>, as the delegate's <c>ReplaceTablePrefix</c> fills it (the delegate itself needs a
    /// Quartz <c>IDbProvider</c> to run, so its text is taken from the template the code uses rather than recorded).
    /// </summary>
    private static Task BothLimitsCountAsync(SqlRecord record)
    {
        record.Add(string.Format(System.Globalization.CultureInfo.InvariantCulture, BothLimitsCount.Template, "QRTZ_"));
        return Task.CompletedTask;
    }

    /// <summary>A SQL Server store whose connections record instead of reaching a server.</summary>
    private sealed class RecordingSqlServerDriver(SqlRecord record) : StoreDriver
    {
        public override StorageProvider Provider => StorageProvider.SqlServer;

        public override DbDataSource CreateDataSource(string connectionString) => new RecordingDataSource(record);

        public override DbConnectionStringBuilder ParseConnectionString(string connectionString) => new() { ConnectionString = connectionString };

        public override IMigrationTarget MigrationTarget(string connectionString, ILogger logger) => throw new NotSupportedException("No server to migrate.");
    }
}
