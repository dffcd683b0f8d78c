using Npgsql;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>A <c>work_items</c> row.</summary>
internal sealed record ItemRow(
    string DataType, string EntityId, string? Tier, string State, DateTimeOffset? UpdatesStart, DateTimeOffset? UpdatesEnd,
    string? LastError, string? NodeId)
{
    public string Key => $"{DataType}/{EntityId}";

    public override string ToString() =>
        $"{Key} row: tier {Tier ?? "none"}, {State}, updates_start {UpdatesStart:HH:mm:ss.ffffff}, updates_end {UpdatesEnd:HH:mm:ss.ffffff}, "
        + $"node {NodeId}, last_error '{LastError}'";
}

/// <summary>A <c>failures</c> row.</summary>
internal sealed record FailureRow(string DataType, string EntityId, string NodeId, DateTimeOffset FailedAt, string Message)
{
    public string Key => $"{DataType}/{EntityId}";
}

/// <summary>
/// The rows the checks read: work items, Quartz's triggers and fired triggers (as group/name keys
/// with how many rows each), and failures.
/// </summary>
internal sealed record TableSnapshot(
    IReadOnlyDictionary<string, ItemRow> Items,
    IReadOnlyDictionary<string, int> Triggers,
    IReadOnlyDictionary<string, int> Fired,
    IReadOnlyList<FailureRow> Failures)
{
    /// <summary>Quartz's group for the triggers that recover a dead node's firings.</summary>
    public const string RecoveryGroup = "RECOVERING_JOBS";

    /// <summary>The items in flight, as <see cref="NodeEvent.InFlightKey"/>s.</summary>
    public static async Task<IReadOnlySet<string>> InFlightAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT data_type || '/' || entity_id, fence FROM work_items WHERE state = 'in_flight'", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync())
            keys.Add(NodeEvent.InFlightKey(reader.GetString(0), reader.GetInt64(1)));
        return keys;
    }

    public static async Task<TableSnapshot> ReadAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var items = new Dictionary<string, ItemRow>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("SELECT data_type, entity_id, tier, state, updates_start, updates_end, last_error, node_id FROM work_items", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var row = new ItemRow(reader.GetString(0), reader.GetString(1), Text(reader, 2), reader.GetString(3),
                    Time(reader, 4), Time(reader, 5), Text(reader, 6), Text(reader, 7));
                items[row.Key] = row;
            }
        }
        var triggers = await CountAsync(connection, "SELECT trigger_group || '/' || trigger_name, COUNT(*) FROM qrtz_triggers GROUP BY 1");
        var fired = await CountAsync(connection, "SELECT trigger_group || '/' || trigger_name, COUNT(*) FROM qrtz_fired_triggers GROUP BY 1");
        var failures = new List<FailureRow>();
        await using (var command = new NpgsqlCommand("SELECT data_type, entity_id, node_id, failed_at, message FROM failures", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                failures.Add(new FailureRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), Time(reader, 3)!.Value, reader.GetString(4)));
        }
        return new TableSnapshot(items, triggers, fired, failures);
    }

    private static async Task<Dictionary<string, int>> CountAsync(NpgsqlConnection connection, string sql)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            counts[reader.GetString(0)] = (int)reader.GetInt64(1);
        return counts;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static DateTimeOffset? Time(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
