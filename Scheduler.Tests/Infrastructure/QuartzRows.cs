using System.Data.Common;
using Npgsql;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// What Quartz's foreign keys held on PostgreSQL before schema V007 dropped them, checked instead:
/// every trigger has its job and its detail row, and every detail row its trigger.
/// </summary>
public static class QuartzRows
{
    private const string Mismatches =
        """
        SELECT 'trigger ' || t.trigger_group || '.' || t.trigger_name || ' without its job ' || t.job_group || '.' || t.job_name
        FROM qrtz_triggers t
        WHERE NOT EXISTS (SELECT 1 FROM qrtz_job_details j
                          WHERE j.sched_name = t.sched_name AND j.job_name = t.job_name AND j.job_group = t.job_group)
        UNION ALL
        SELECT 'simple trigger ' || t.trigger_group || '.' || t.trigger_name || ' without its qrtz_simple_triggers row'
        FROM qrtz_triggers t
        WHERE t.trigger_type = 'SIMPLE'
          AND NOT EXISTS (SELECT 1 FROM qrtz_simple_triggers s
                          WHERE s.sched_name = t.sched_name AND s.trigger_name = t.trigger_name AND s.trigger_group = t.trigger_group)
        UNION ALL
        SELECT 'cron trigger ' || t.trigger_group || '.' || t.trigger_name || ' without its qrtz_cron_triggers row'
        FROM qrtz_triggers t
        WHERE t.trigger_type = 'CRON'
          AND NOT EXISTS (SELECT 1 FROM qrtz_cron_triggers c
                          WHERE c.sched_name = t.sched_name AND c.trigger_name = t.trigger_name AND c.trigger_group = t.trigger_group)
        UNION ALL
        SELECT d.detail || ' row ' || d.trigger_group || '.' || d.trigger_name || ' without its trigger'
        FROM (SELECT 'qrtz_simple_triggers' AS detail, sched_name, trigger_name, trigger_group FROM qrtz_simple_triggers
              UNION ALL SELECT 'qrtz_cron_triggers', sched_name, trigger_name, trigger_group FROM qrtz_cron_triggers
              UNION ALL SELECT 'qrtz_simprop_triggers', sched_name, trigger_name, trigger_group FROM qrtz_simprop_triggers
              UNION ALL SELECT 'qrtz_blob_triggers', sched_name, trigger_name, trigger_group FROM qrtz_blob_triggers) d
        WHERE NOT EXISTS (SELECT 1 FROM qrtz_triggers t
                          WHERE t.sched_name = d.sched_name AND t.trigger_name = d.trigger_name AND t.trigger_group = d.trigger_group)
        LIMIT 20
        """;

    /// <summary>Up to 20 rows the foreign keys would have refused, described; empty when there are none.</summary>
    public static async Task<IReadOnlyList<string>> MismatchesAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return await MismatchesAsync(connection);
    }

    /// <summary>As <see cref="MismatchesAsync(string)"/>, on any provider's connection (opened here if closed).</summary>
    public static async Task<IReadOnlyList<string>> MismatchesAsync(DbConnection connection)
    {
        if (connection.State != System.Data.ConnectionState.Open)
            await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = Mismatches;
        await using var reader = await command.ExecuteReaderAsync();
        var found = new List<string>();
        while (await reader.ReadAsync())
            found.Add(reader.GetString(0));
        return found;
    }

    /// <summary>Fails, naming them, when some trigger rows do not hang together.</summary>
    public static async Task AssertConsistentAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await AssertConsistentAsync(connection);
    }

    /// <summary>As <see cref="AssertConsistentAsync(string)"/>, on any provider's connection.</summary>
    public static async Task AssertConsistentAsync(DbConnection connection)
    {
        var mismatches = await MismatchesAsync(connection);
        Assert.True(mismatches.Count == 0, "Quartz's trigger rows do not hang together: " + string.Join("; ", mismatches));
    }
}
