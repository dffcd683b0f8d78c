using System.Data.Common;
using BatchScheduler.Storage;

namespace BatchScheduler.Failures;

/// <summary>One failed attempt as the API shows it.</summary>
internal sealed record Failure(
    long Id, string DataType, string EntityId, int Attempt, string NodeId, DateTimeOffset FailedAt,
    string ExceptionType, string Message, string? Detail, bool Done, DateTimeOffset? DoneAt);

/// <summary>A page of failures.</summary>
internal sealed record FailurePage(IReadOnlyList<Failure> Items, int Page, int PageSize, long Total);

/// <summary>Reads failure rows for triage and marks them done.</summary>
internal sealed class FailureStore(ConnectionFactory connections, TimeProvider time)
{
    public async Task<FailurePage> ListAsync(bool? done, string? dataType, string? entityId, int page, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        const string where = """
            WHERE (@done IS NULL OR done = @done)
              AND (@dataType IS NULL OR data_type = @dataType)
              AND (@entityId IS NULL OR entity_id = @entityId)
            """;
        DbCommand Filtered(string sql)
        {
            var command = connection.Command(sql).With("@dataType", dataType).With("@entityId", entityId);
            var p = command.CreateParameter();
            p.ParameterName = "@done";
            p.DbType = System.Data.DbType.Boolean;
            p.Value = done is { } d ? d : DBNull.Value;
            command.Parameters.Add(p);
            return command;
        }
        await using var count = Filtered($"SELECT COUNT(*) FROM failures {where}");
        var total = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        await using var select = Filtered(
            $"SELECT * FROM failures {where} ORDER BY failed_at DESC, id DESC {connections.Dialect.Page("@offset", "@limit")}")
            .With("@offset", (page - 1) * pageSize).With("@limit", pageSize);
        var items = new List<Failure>();
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new Failure(
                reader.GetInt64("id"), reader.GetString(reader.GetOrdinal("data_type")), reader.GetString(reader.GetOrdinal("entity_id")),
                (int)reader.GetInt64("attempt"), reader.GetString(reader.GetOrdinal("node_id")), reader.GetTime("failed_at")!.Value,
                reader.GetString(reader.GetOrdinal("exception_type")), reader.GetString(reader.GetOrdinal("message")),
                reader.Get<string>("detail"), reader.GetInt64("done") != 0, reader.GetTime("done_at")));
        }
        return new FailurePage(items, page, pageSize, total);
    }

    /// <summary>Marks a failure done; false when there is no such failure.</summary>
    public async Task<bool> MarkDoneAsync(long id, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command("UPDATE failures SET done = @done, done_at = COALESCE(done_at, @now) WHERE id = @id")
            .With("@done", true).With("@now", time.GetUtcNow()).With("@id", id);
        return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
    }

    /// <summary>
    /// Marks every not-done failure matching the filter done in one statement (each filter optional;
    /// <paramref name="before"/> is exclusive, on <c>failed_at</c>); returns how many it marked.
    /// </summary>
    public async Task<int> MarkAllDoneAsync(string? dataType, string? entityId, DateTimeOffset? before, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            UPDATE failures SET done = @done, done_at = @now
            WHERE done = @notDone
              AND (@dataType IS NULL OR data_type = @dataType)
              AND (@entityId IS NULL OR entity_id = @entityId)
              AND (@before IS NULL OR failed_at < @before)
            """)
            .With("@done", true).With("@notDone", false).With("@now", time.GetUtcNow())
            .With("@dataType", dataType).With("@entityId", entityId).WithTime("@before", before?.ToUniversalTime());
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
