using System.Data.Common;

namespace BatchScheduler.Storage;

/// <summary>Small conveniences over ADO.NET so store code reads as SQL plus parameters.</summary>
internal static class DbCommandExtensions
{
    public static DbCommand Command(this DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    public static DbCommand With(this DbCommand command, string name, object? value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value ?? DBNull.Value;
        if (value is null or string)
            p.DbType = System.Data.DbType.String; // lets PostgreSQL type "@x IS NULL"
        command.Parameters.Add(p);
        return command;
    }

    /// <summary>A nullable time: a typed NULL, which PostgreSQL needs where the column is a timestamptz.</summary>
    public static DbCommand WithTime(this DbCommand command, string name, DateTimeOffset? value)
    {
        var p = command.CreateParameter();
        p.ParameterName = name;
        p.Value = value is { } v ? v : DBNull.Value;
        p.DbType = System.Data.DbType.DateTimeOffset;
        command.Parameters.Add(p);
        return command;
    }

    public static T? Get<T>(this DbDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? default : reader.GetFieldValue<T>(ordinal);
    }

    public static DateTimeOffset? GetTime(this DbDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        if (reader.IsDBNull(ordinal))
            return null;
        return reader.GetFieldValue<DateTimeOffset>(ordinal).ToUniversalTime();
    }

    public static long GetInt64(this DbDataReader reader, string column) =>
        Convert.ToInt64(reader.GetValue(reader.GetOrdinal(column)), System.Globalization.CultureInfo.InvariantCulture);
}
