using BatchScheduler.Tests.Storage.SqlServer;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Storage;

/// <summary>
/// The SQL Server statements BatchScheduler's code issues, checked without a server: each parses with
/// Microsoft's T-SQL parser (<c>TSql160Parser</c>, as <see cref="SqlServerScriptParseTests"/> parses the
/// scripts), and every table and column each names exists in the tables <c>database/sqlserver</c> creates
/// (<see cref="ColumnReferenceCheck"/>, <see cref="SqlServerSchema"/>).
/// </summary>
/// <remarks>
/// <para>
/// The statements are those the code itself builds, recorded as the stores run for a SQL Server store
/// (<see cref="SqlServerStatements"/>). Completeness: <see cref="EverySqlTextInTheSource_IsIssuedOrNotSqlServers"/>
/// finds every SQL text in the product's source with Roslyn (<see cref="SqlTextsInSource"/>) and fails for
/// one that no recorded statement contains, unless <see cref="NotSqlServer"/> lists it with the reason no
/// SQL Server path issues it; an entry matching nothing fails too. A fragment with neither a SQL keyword nor
/// a condition on a parameter (a bare column list chosen by a branch) is not a text of its own to the
/// scan; it is checked only inside the statements recorded.
/// </para>
/// <para>
/// Not covered: Quartz.NET's own SQL (its <c>SqlServerDelegate</c> and job store, Quartz's to keep right
/// against its schema; only the both-limits count our delegate adds is checked, from its template), DbUp's
/// journal statements, and everything a parser cannot see: types, semantics, permissions, locking hints'
/// behaviour, results and performance (database/README.md says so for users).
/// </para>
/// </remarks>
public sealed class SqlServerStatementTests(ITestOutputHelper output)
{
    private static readonly Lazy<Task<(IReadOnlyList<string> Statements, IReadOnlyList<string> Errors)>> Issued = new(SqlServerStatements.IssueAsync);

    [Fact]
    public async Task EveryStatement_ParsesAsTSql()
    {
        var (statements, _) = await Issued.Value;
        var failures = new List<string>();
        foreach (var sql in statements)
        {
            new TSql160Parser(initialQuotedIdentifiers: true).Parse(new StringReader(sql), out var errors);
            if (errors.Count > 0)
                failures.Add($"{string.Join("; ", errors.Select(e => $"line {e.Line}, column {e.Column}: {e.Message}"))}\n{sql}");
        }
        output.WriteLine($"{statements.Count} statements parsed");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public async Task EveryStatement_NamesOnlyTablesAndColumnsTheScriptsCreate()
    {
        var (statements, _) = await Issued.Value;
        var schema = SqlServerSchema.FromScripts();
        var failures = statements
            .Select(sql => (Sql: sql, Problems: ColumnReferenceCheck.Problems(sql, schema)))
            .Where(s => s.Problems.Count > 0)
            .Select(s => $"{string.Join("; ", s.Problems)}\n  in: {SqlTextsInSource.Normalize(s.Sql)}")
            .ToList();
        output.WriteLine($"{statements.Count} statements checked against {schema.Tables.Count} tables");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Theory]
    [InlineData("UPDATE work_items SET stat = @s WHERE data_type = @d", "stat (UPDATE … SET): table work_items has no column stat")]
    [InlineData("SELECT w.entity_idd FROM work_items w", "w.entity_idd: table work_items (as w) has no column entity_idd")]
    [InlineData("SELECT 1 FROM work_item WHERE data_type = @d", "work_item: no such table in database/sqlserver")]
    [InlineData("SELECT entity_id FROM work_items WHERE NOT EXISTS (SELECT 1 FROM qrtz_triggers t WHERE t.trigger_name = work_items.entity_idx)",
        "work_items.entity_idx: table work_items has no column entity_idx")]
    [InlineData("SELECT entity_id FROM work_items WHERE EXISTS (SELECT 1 FROM qrtz_triggers t WHERE t.trigger_name = entity_id AND next_fire = 1)",
        "next_fire: no table in scope has column next_fire (in scope: table qrtz_triggers (as t), table work_items)")]
    [InlineData("INSERT INTO failures (data_type, entity_id, atempt) VALUES (@d, @e, @a)", "atempt (INSERT column list): table failures has no column atempt")]
    [InlineData("UPDATE work_items SET state = @s OUTPUT inserted.tierx WHERE data_type = @d", "inserted.tierx: table work_items (as inserted) has no column tierx")]
    [InlineData("""
        MERGE work_items AS t USING (VALUES (@d, @e)) AS s (data_type, entity_id) ON t.data_type = s.data_type AND t.entity_id = s.entity_idd
        WHEN NOT MATCHED THEN INSERT (data_type, entity_id) VALUES (s.data_type, s.entity_id);
        """, "s.entity_idd: derived table s has no column entity_idd")]
    [InlineData("""
        MERGE work_items AS t USING (VALUES (@d, @e)) AS s (data_type, entity_id) ON t.data_type = s.data_type AND t.entity_id = s.entity_id
        WHEN MATCHED THEN UPDATE SET tierr = @t WHEN NOT MATCHED THEN INSERT (data_type, entity_id) VALUES (s.data_type, s.entity_id);
        """, "tierr (MERGE … UPDATE SET): table work_items (as t) has no column tierr")]
    [InlineData("SELECT x.n FROM (SELECT COUNT(*) AS c FROM work_items) AS x", "x.n: derived table x has no column n")]
    public void ColumnReferenceCheck_NamesWhatTheSchemaLacks(string sql, string problem)
    {
        Assert.Equal([problem], ColumnReferenceCheck.Problems(sql, SqlServerSchema.FromScripts()));
    }

    [Theory]
    [InlineData("SELECT w.state, COUNT(*) AS n FROM work_items w JOIN qrtz_triggers t ON t.trigger_name = w.entity_id GROUP BY w.state ORDER BY n")]
    [InlineData("SELECT entity_id FROM work_items WHERE NOT EXISTS (SELECT 1 FROM QRTZ_FIRED_TRIGGERS f WHERE f.TRIGGER_NAME = work_items.entity_id)")]
    [InlineData("UPDATE work_items SET fence = fence + 1, cancel_fence = NULL OUTPUT inserted.tier, deleted.payload WHERE run_at_fence = fence")]
    [InlineData("SELECT x.c FROM (SELECT COUNT(*) AS c FROM batch_records) AS x")]
    public void ColumnReferenceCheck_AcceptsWhatTheScriptsCreate(string sql)
    {
        Assert.Empty(ColumnReferenceCheck.Problems(sql, SqlServerSchema.FromScripts()));
    }

    [Fact]
    public async Task EverySqlTextInTheSource_IsIssuedOrNotSqlServers()
    {
        var (statements, errors) = await Issued.Value;
        var issued = statements.Select(SqlTextsInSource.Normalize).ToList();
        var texts = SqlTextsInSource.Find();
        var missing = texts
            .Where(t => !NotSqlServer.Covers(t))
            .Where(t => !issued.Any(s => t.Pieces.All(p => s.Contains(p, StringComparison.Ordinal))))
            .ToList();
        output.WriteLine($"{texts.Count} SQL texts in the source; {texts.Count(NotSqlServer.Covers)} other providers'; {statements.Count} statements issued");
        foreach (var e in errors)
            output.WriteLine($"path stopped: {e}");
        var stale = NotSqlServer.Entries.Where(e => !texts.Any(t => NotSqlServer.Matches(e, t))).ToList();
        Assert.True(stale.Count == 0, "NotSqlServer entries that match no SQL text in the source any more (remove them): " + string.Join("; ", stale));
        Assert.True(missing.Count == 0,
            $"{missing.Count} SQL texts in the source are in no SQL Server statement recorded by SqlServerStatements.IssueAsync: call the code that issues "
            + "them there, or if no SQL Server path can issue them, list them in NotSqlServer with the reason.\n" + string.Join("\n", missing));
    }
}
