using System.Data.Common;
using BatchScheduler.Storage;

namespace BatchScheduler.Audit;

/// <summary>Writes and reads <c>audit_log</c>.</summary>
internal sealed class AuditStore(ConnectionFactory connections)
{
    /// <summary>Column widths of <c>audit_log</c> (V016); longer values are cut to them.</summary>
    public const int MaxWho = 200, MaxAction = 300, MaxTarget = 1000, MaxDetail = 2000, MaxNode = 200;

    /// <summary>Writes one row (its <see cref="AuditEntry.Id"/> is ignored: the store assigns it).</summary>
    public async Task AddAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        // PostgreSQL: the row's commit does not wait for its WAL flush (an fsync per changing request
        // made a single PUT ~50% slower). The row is visible at once; only a crash of the database
        // server within a fraction of a second after it could lose it (docs/security.md, Audit).
        var postgres = connections.Provider == StorageProvider.Postgres;
        await using var transaction = postgres ? await connection.BeginTransactionAsync(cancellationToken) : null;
        await using var command = connection.Command(
            $"""
            {(postgres ? "SET LOCAL synchronous_commit = off;" : "")}
            INSERT INTO audit_log (recorded_at, who, action, target, item_count, detail, status, node_id)
            VALUES (@at, @who, @action, @target, @count, @detail, @status, @node)
            """, transaction)
            .WithTime("@at", entry.At.ToUniversalTime())
            .With("@who", Fit(entry.Who, MaxWho)).With("@action", Fit(entry.Action, MaxAction))
            .With("@target", FitOrNull(entry.Target, MaxTarget)).With("@detail", FitOrNull(entry.Detail, MaxDetail))
            .With("@status", entry.Status).With("@node", Fit(entry.Node, MaxNode));
        var count = command.CreateParameter();
        count.ParameterName = "@count";
        count.DbType = System.Data.DbType.Int64;
        count.Value = entry.Count is { } c ? c : DBNull.Value;
        command.Parameters.Add(count);
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (transaction is not null)
            await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Rows matching <paramref name="query"/>, newest first, at most <see cref="AuditQuery.Limit"/> of them.</summary>
    public async Task<IReadOnlyList<AuditEntry>> ListAsync(AuditQuery query, CancellationToken cancellationToken)
    {
        await using var connection = await connections.OpenAsync(cancellationToken);
        var conditions = new List<string>();
        await using var command = connection.Command("");
        if (query.Before is { } before)
        {
            conditions.Add("id < @before");
            command.With("@before", before);
        }
        if (query.Who is not null)
        {
            conditions.Add("who = @who");
            command.With("@who", query.Who);
        }
        if (query.Action is not null)
        {
            conditions.Add("action = @action");
            command.With("@action", query.Action);
        }
        if (query.Since is { } since)
        {
            conditions.Add("recorded_at >= @since");
            command.WithTime("@since", since.ToUniversalTime());
        }
        command.CommandText =
            $"""
            SELECT id, recorded_at, who, action, target, item_count, detail, status, node_id FROM audit_log
            {(conditions.Count == 0 ? "" : "WHERE " + string.Join(" AND ", conditions))}
            ORDER BY id DESC {connections.Dialect.Page("@offset", "@limit")}
            """;
        command.With("@offset", 0).With("@limit", query.Limit);
        var rows = new List<AuditEntry>(query.Limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new AuditEntry(
                reader.GetInt64("id"), reader.GetTime("recorded_at")!.Value, reader.GetString(reader.GetOrdinal("who")),
                reader.GetString(reader.GetOrdinal("action")), reader.Get<string>("target"),
                reader.IsDBNull(reader.GetOrdinal("item_count")) ? null : reader.GetInt64("item_count"),
                reader.Get<string>("detail"), (int)reader.GetInt64("status"), reader.GetString(reader.GetOrdinal("node_id"))));
        }
        return rows;
    }

    private static string Fit(string value, int length) => StorableText.Storable(value.Length <= length ? value : value[..(length - 1)] + "…");

    private static string? FitOrNull(string? value, int length) => value is null ? null : Fit(value, length);
}
