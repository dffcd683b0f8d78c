using System.Text.RegularExpressions;
using DbUp.Engine;
using Microsoft.Data.Sqlite;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// Makes SQLite's <c>ALTER TABLE t ADD COLUMN c …;</c> safe to run again, as every other script is
/// (the README's by-hand install runs them all, then a node migrates and runs them again): SQLite has no
/// <c>ADD COLUMN IF NOT EXISTS</c>, so a statement whose column the table already has is dropped from the
/// script before it runs. Earlier scripts of the same run are committed by then (a transaction per script).
/// </summary>
internal sealed partial class SqliteAddColumnGuard(string connectionString) : IScriptPreprocessor
{
    public string Process(string contents) =>
        AddColumn().Replace(contents, match => HasColumn(match.Groups["table"].Value, match.Groups["column"].Value)
            ? $"-- skipped, {match.Groups["table"].Value}.{match.Groups["column"].Value} exists: {match.Value.TrimEnd(';')}\nSELECT 1;"
            : match.Value);

    private bool HasColumn(string table, string column)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM pragma_table_info(@table) WHERE name = @column";
        command.Parameters.AddWithValue("@table", table);
        command.Parameters.AddWithValue("@column", column);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    [GeneratedRegex(@"^ALTER TABLE (?<table>\w+) ADD COLUMN (?<column>\w+)[^;]*;", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex AddColumn();
}
