using BatchScheduler.Storage;
using BatchScheduler.Storage.Migrations;

namespace BatchScheduler.Tests.Storage.Migrations;

public sealed class MigrationScriptsTests
{
    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    [InlineData(StorageProvider.SqlServer)]
    public void For_EveryProvider_ListsTheSameVersionsInOrder(StorageProvider provider)
    {
        var names = MigrationScripts.For(provider).Select(s => s.Name).ToArray();

        Assert.Equal(["V001__quartz_tables.sql", "V002__batchscheduler_tables.sql", "V003__vendor_credits.sql", "V004__health_counts_index.sql", "V005__batches.sql", "V006__stats_minutely.sql", "V007__quartz_trigger_write_costs.sql", "V008__quartz_lookup_indexes.sql", "V009__work_item_fence.sql", "V010__quartz_recovery_trigger_index.sql", "V011__run_at_and_pause.sql", "V012__run_at_fence_and_batch_records.sql", "V013__node_data_types.sql", "V014__attempt_cancel.sql", "V015__bulk_actions.sql", "V016__audit_log.sql", "V017__quartz_trigger_group_due_index.sql", "V018__ops_views.sql", "V019__retention_indexes.sql"], names);
    }

    [Fact]
    public void EmbeddedResources_AreNamedByProviderFolderAndFile()
    {
        var resources = typeof(SchemaMigrator).Assembly.GetManifestResourceNames()
            .Where(r => r.StartsWith("BatchScheduler.Database.", StringComparison.Ordinal))
            .Select(r => r.Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToArray();

        Assert.Equal(
            [
                "BatchScheduler.Database.postgres/V001__quartz_tables.sql",
                "BatchScheduler.Database.postgres/V002__batchscheduler_tables.sql",
                "BatchScheduler.Database.postgres/V003__vendor_credits.sql",
                "BatchScheduler.Database.postgres/V004__health_counts_index.sql",
                "BatchScheduler.Database.postgres/V005__batches.sql",
                "BatchScheduler.Database.postgres/V006__stats_minutely.sql",
                "BatchScheduler.Database.postgres/V007__quartz_trigger_write_costs.sql",
                "BatchScheduler.Database.postgres/V008__quartz_lookup_indexes.sql",
                "BatchScheduler.Database.postgres/V009__work_item_fence.sql",
                "BatchScheduler.Database.postgres/V010__quartz_recovery_trigger_index.sql",
                "BatchScheduler.Database.postgres/V011__run_at_and_pause.sql",
                "BatchScheduler.Database.postgres/V012__run_at_fence_and_batch_records.sql",
                "BatchScheduler.Database.postgres/V013__node_data_types.sql",
                "BatchScheduler.Database.postgres/V014__attempt_cancel.sql",
                "BatchScheduler.Database.postgres/V015__bulk_actions.sql",
                "BatchScheduler.Database.postgres/V016__audit_log.sql",
                "BatchScheduler.Database.postgres/V017__quartz_trigger_group_due_index.sql",
                "BatchScheduler.Database.postgres/V018__ops_views.sql",
                "BatchScheduler.Database.postgres/V019__retention_indexes.sql",
                "BatchScheduler.Database.sqlite/V001__quartz_tables.sql",
                "BatchScheduler.Database.sqlite/V002__batchscheduler_tables.sql",
                "BatchScheduler.Database.sqlite/V003__vendor_credits.sql",
                "BatchScheduler.Database.sqlite/V004__health_counts_index.sql",
                "BatchScheduler.Database.sqlite/V005__batches.sql",
                "BatchScheduler.Database.sqlite/V006__stats_minutely.sql",
                "BatchScheduler.Database.sqlite/V007__quartz_trigger_write_costs.sql",
                "BatchScheduler.Database.sqlite/V008__quartz_lookup_indexes.sql",
                "BatchScheduler.Database.sqlite/V009__work_item_fence.sql",
                "BatchScheduler.Database.sqlite/V010__quartz_recovery_trigger_index.sql",
                "BatchScheduler.Database.sqlite/V011__run_at_and_pause.sql",
                "BatchScheduler.Database.sqlite/V012__run_at_fence_and_batch_records.sql",
                "BatchScheduler.Database.sqlite/V013__node_data_types.sql",
                "BatchScheduler.Database.sqlite/V014__attempt_cancel.sql",
                "BatchScheduler.Database.sqlite/V015__bulk_actions.sql",
                "BatchScheduler.Database.sqlite/V016__audit_log.sql",
                "BatchScheduler.Database.sqlite/V017__quartz_trigger_group_due_index.sql",
                "BatchScheduler.Database.sqlite/V018__ops_views.sql",
                "BatchScheduler.Database.sqlite/V019__retention_indexes.sql",
                "BatchScheduler.Database.sqlserver/V001__quartz_tables.sql",
                "BatchScheduler.Database.sqlserver/V002__batchscheduler_tables.sql",
                "BatchScheduler.Database.sqlserver/V003__vendor_credits.sql",
                "BatchScheduler.Database.sqlserver/V004__health_counts_index.sql",
                "BatchScheduler.Database.sqlserver/V005__batches.sql",
                "BatchScheduler.Database.sqlserver/V006__stats_minutely.sql",
                "BatchScheduler.Database.sqlserver/V007__quartz_trigger_write_costs.sql",
                "BatchScheduler.Database.sqlserver/V008__quartz_lookup_indexes.sql",
                "BatchScheduler.Database.sqlserver/V009__work_item_fence.sql",
                "BatchScheduler.Database.sqlserver/V010__quartz_recovery_trigger_index.sql",
                "BatchScheduler.Database.sqlserver/V011__run_at_and_pause.sql",
                "BatchScheduler.Database.sqlserver/V012__run_at_fence_and_batch_records.sql",
                "BatchScheduler.Database.sqlserver/V013__node_data_types.sql",
                "BatchScheduler.Database.sqlserver/V014__attempt_cancel.sql",
                "BatchScheduler.Database.sqlserver/V015__bulk_actions.sql",
                "BatchScheduler.Database.sqlserver/V016__audit_log.sql",
                "BatchScheduler.Database.sqlserver/V017__quartz_trigger_group_due_index.sql",
                "BatchScheduler.Database.sqlserver/V018__ops_views.sql",
                "BatchScheduler.Database.sqlserver/V019__retention_indexes.sql",
            ],
            resources);
    }

    [Fact]
    public void For_SqlServer_SeparatesBatchesWithGoLines()
    {
        // DbUp's SQL Server executor and sqlcmd split on GO lines: one guarded statement per batch keeps
        // a server error pointing at one statement. (No SQL Server runs here, so this is all CI checks.)
        foreach (var script in MigrationScripts.For(StorageProvider.SqlServer))
        {
            var statements = script.Contents.Split('\n').Count(l => l.TrimStart().StartsWith("CREATE ", StringComparison.Ordinal)
                || l.TrimStart().StartsWith("DROP ", StringComparison.Ordinal) || l.TrimStart().StartsWith("ALTER ", StringComparison.Ordinal));
            var gos = script.Contents.Split('\n').Count(l => l.Trim() == "GO");
            // A script of one statement needs no GO line (V009).
            Assert.True(statements == gos || (statements == 1 && gos == 0), $"{script.Name}: {statements} CREATE/DROP/ALTER statements but {gos} GO lines");
        }
    }
}
