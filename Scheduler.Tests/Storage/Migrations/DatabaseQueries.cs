using System.Data.Common;
using BatchScheduler.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BatchScheduler.Tests.Storage.Migrations;

/// <summary>Plain ADO.NET reads for asserting on what a database holds.</summary>
internal static class DatabaseQueries
{
    public static DbConnection Connect(StorageProvider provider, string connectionString) => provider switch
    {
        StorageProvider.Postgres => new NpgsqlConnection(connectionString),
        StorageProvider.Sqlite => new SqliteConnection(connectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "No test database for this provider."),
    };

    public static async Task<long> CountAsync(
        StorageProvider provider, string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        var value = await ScalarAsync(provider, connectionString, sql, parameters);
        return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<object?> ScalarAsync(
        StorageProvider provider, string connectionString, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = Connect(provider, connectionString);
        await connection.OpenAsync();
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>Every row of <paramref name="sql"/>, each as its columns joined by " | ", in the query's order.</summary>
    public static async Task<IReadOnlyList<string>> RowsAsync(StorageProvider provider, string connectionString, string sql)
    {
        await using var connection = Connect(provider, connectionString);
        await connection.OpenAsync();
        await using var command = Command(connection, sql, []);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            var values = new string[reader.FieldCount];
            for (var i = 0; i < reader.FieldCount; i++)
                values[i] = reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture) ?? "";
            rows.Add(string.Join(" | ", values));
        }

        return rows;
    }

    private static DbCommand Command(DbConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
