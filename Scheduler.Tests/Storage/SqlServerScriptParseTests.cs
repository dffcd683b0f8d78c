using BatchScheduler.Tests.Infrastructure;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace BatchScheduler.Tests.Storage;

/// <summary>
/// No SQL Server runs here, so its migration scripts are checked with Microsoft's own T-SQL parser
/// (the one SQL Server's tools use): each parses without an error. This proves the syntax, not that
/// the statements run (names, types and semantics are checked only by a real server).
/// </summary>
public sealed class SqlServerScriptParseTests
{
    public static TheoryData<string> Scripts() =>
        [.. Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "database", "sqlserver"), "*.sql").Order(StringComparer.Ordinal).Select(f => Path.GetFileName(f))];

    [Theory]
    [MemberData(nameof(Scripts))]
    public void MigrationScript_ParsesAsTSql(string script)
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        using var reader = new StreamReader(Path.Combine(RepositoryRoot.Path, "database", "sqlserver", script));
        var fragment = parser.Parse(reader, out var errors);

        Assert.True(errors.Count == 0,
            $"{script}: " + string.Join("; ", errors.Select(e => $"line {e.Line}, column {e.Column}: {e.Message}")));
        Assert.NotEmpty(((TSqlScript)fragment).Batches);
    }

    [Fact]
    public void Parser_RefusesBrokenTSql()
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        parser.Parse(new StringReader("CREATE TABLE work_items (data_type NVARCHAR(200) NOT NULL,, entity_id INT)"), out var errors);
        Assert.NotEmpty(errors);
    }
}
