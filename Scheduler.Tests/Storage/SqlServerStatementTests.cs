using BatchScheduler.Tests.Storage.SqlServer;
using Microsoft.SqlServer.TransactSql.ScriptDom;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Storage;

/// <summary>
/// The SQL Server statements BatchScheduler's code issues, checked without a server: each parses with
/// Microsoft's T-SQL parser (<c>TSql160Parser</c>, as <see cref="SqlServerScriptParseTests"/> parses the
/// scripts), and every table and column each names exists in the tables <c>database/sqlserver</c> creates.
/// The statements are those the code itself builds (<see cref="SqlServerStatements"/>), and a third test
/// fails for any SQL text in the source that none of them contains, so a new statement cannot go unchecked.
/// </summary>
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
    public async Task EverySqlTextInTheSource_IsIssuedOrNotSqlServers()
    {
        var (statements, errors) = await Issued.Value;
        var issued = statements.Select(SqlTextsInSource.Normalize).ToList();
        var texts = SqlTextsInSource.Find();
        var missing = texts
            .Where(t => !NotSqlServer.Covers(t))
            .Where(t => !issued.Any(s => t.Pieces.All(p => s.Contains(p, StringComparison.Ordinal))))
            .ToList();
        foreach (var e in errors)
            output.WriteLine($"path stopped: {e}");
        var stale = NotSqlServer.Entries.Where(e => !texts.Any(t => NotSqlServer.Matches(e, t))).ToList();
        Assert.True(stale.Count == 0, "NotSqlServer entries that match no SQL text in the source any more (remove them): " + string.Join("; ", stale));
        Assert.True(missing.Count == 0,
            $"{missing.Count} SQL texts in the source are in no SQL Server statement recorded by SqlServerStatements.Issue: call the code that issues "
            + "them there, or if no SQL Server path can issue them, list them in NotSqlServer with the reason.\n" + string.Join("\n", missing));
    }
}
