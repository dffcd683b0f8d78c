using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.Tests.Storage;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// The SQL examples of README.md and docs/sql.md run, statement by statement, against a database a real
/// node has filled (<see cref="OpsScenario"/>): on PostgreSQL, which the pages' examples are written for,
/// and on SQLite every statement but those docs/sql.md gives a SQLite variant of (the ones using
/// <c>now()</c>), since the README offers its block to <c>sqlite3</c> as well.
/// </summary>
public sealed class DocsSqlTests(ITestOutputHelper log)
{
    private static readonly string[] Pages = ["README.md", "docs/sql.md"];

    [Theory]
    [InlineData(StorageProvider.Postgres)]
    [InlineData(StorageProvider.Sqlite)]
    public async Task SqlExamples_OnADatabaseANodeFilled_RunAndTheViewsAnswer(StorageProvider provider)
    {
        var statements = Pages.SelectMany(page => Statements(page).Select(sql => (Page: page, Sql: sql)))
            .Where(s => provider == StorageProvider.Postgres || !s.Sql.Contains("now()", StringComparison.Ordinal))
            .ToList();
        Assert.Contains(statements, s => s.Page == "README.md");
        Assert.True(statements.Count(s => s.Page == "docs/sql.md") >= 8, "docs/sql.md should have its examples as sql blocks");
        await using var scenario = await OpsScenario.StartAsync(provider);

        var failed = new List<string>();
        var answered = 0;
        foreach (var (page, sql) in statements)
        {
            try
            {
                var rows = await scenario.RowsAsync(sql);
                answered += rows.Count > 0 ? 1 : 0;
                log.WriteLine($"{page}: {rows.Count} rows: {sql.ReplaceLineEndings(" ")}");
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException)
            {
                failed.Add($"{page}: {sql}\n  → {ex.Message}");
            }
        }

        Assert.True(failed.Count == 0, string.Join("\n", failed));
        // The scenario has stale, running, paused and scheduled items: most examples find some.
        Assert.True(answered >= statements.Count / 2, $"only {answered} of {statements.Count} examples returned rows");
    }

    /// <summary>The statements of every <c>```sql</c> block of <paramref name="page"/>, comment lines left out.</summary>
    private static IEnumerable<string> Statements(string page)
    {
        var lines = File.ReadAllText(Path.Combine(RepositoryRoot.Path, page)).ReplaceLineEndings("\n").Split('\n');
        var inSql = false;
        var block = new List<string>();
        foreach (var line in lines)
        {
            if (line.Trim() == "```sql")
            {
                inSql = true;
                block.Clear();
            }
            else if (inSql && line.Trim() == "```")
            {
                inSql = false;
                foreach (var statement in string.Join("\n", block).Split(';'))
                {
                    if (statement.Trim().Length > 0)
                        yield return statement.Trim();
                }
            }
            else if (inSql && !line.TrimStart().StartsWith("--", StringComparison.Ordinal))
            {
                block.Add(line);
            }
        }
    }
}
