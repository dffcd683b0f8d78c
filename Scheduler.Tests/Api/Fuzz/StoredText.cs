using System.Data.Common;
using System.Text;
using System.Text.Json;
using BatchScheduler.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BatchScheduler.Tests.Api.Fuzz;

/// <summary>
/// Reads the product's tables directly and names every stored text that is not valid Unicode or
/// holds a NUL: invalid UTF-8 bytes (SQLite keeps a lone surrogate as such), a NUL, or, in a JSON
/// column, a \u0000 or lone-surrogate escape (which every reader of the JSON meets again).
/// </summary>
public static class StoredText
{
    public static readonly string[] Tables = ["work_items", "batch_records", "batches", "failures"];

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static async Task<List<string>> ProblemsAsync(StorageProvider provider, string connectionString)
    {
        var problems = new List<string>();
        await using DbConnection connection = provider == StorageProvider.Sqlite
            ? new SqliteConnection(connectionString)
            : new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var table in Tables)
        {
            var columns = await ColumnsAsync(connection, table);
            // SQLite gives text back decoded (bad bytes replaced), so its bytes are read as blobs.
            var select = provider == StorageProvider.Sqlite
                ? string.Join(", ", columns.Select(c => $"CAST({c} AS BLOB)"))
                : string.Join(", ", columns.Select(c => $"CAST({c} AS text)"));
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {select} FROM {table}";
            await using var reader = await command.ExecuteReaderAsync();
            var found = new Dictionary<string, (int Count, string Example)>();
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < columns.Count; i++)
                {
                    if (reader.IsDBNull(i))
                        continue;
                    var problem = provider == StorageProvider.Sqlite
                        ? Check(reader.GetFieldValue<byte[]>(i))
                        : Check(reader.GetString(i));
                    if (problem is null)
                        continue;
                    var key = $"{table}.{columns[i]}: {problem}";
                    var row = Describe(reader, columns);
                    found[key] = found.TryGetValue(key, out var seen) ? (seen.Count + 1, seen.Example) : (1, row);
                }
            }
            problems.AddRange(found.Select(f => $"{f.Key} ({f.Value.Count} rows, e.g. {f.Value.Example})"));
        }
        return problems;
    }

    private static async Task<List<string>> ColumnsAsync(DbConnection connection, string table)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT * FROM {table} WHERE 1 = 0";
        await using var reader = await command.ExecuteReaderAsync();
        return [.. Enumerable.Range(0, reader.FieldCount).Select(reader.GetName)];
    }

    private static string Describe(DbDataReader reader, List<string> columns)
    {
        var parts = new List<string>();
        foreach (var name in new[] { "data_type", "entity_id", "batch_id", "id", "line" })
        {
            var i = columns.IndexOf(name);
            if (i >= 0 && !reader.IsDBNull(i))
            {
                var value = reader.GetValue(i) is byte[] bytes ? Encoding.UTF8.GetString(bytes) : reader.GetValue(i).ToString()!;
                parts.Add($"{name}={Printable(value)}");
            }
        }
        return string.Join(" ", parts);
    }

    /// <summary>Control characters and surrogates as \uXXXX, cut to 60 characters: safe to print in a report.</summary>
    public static string Printable(string text)
    {
        var printable = new StringBuilder();
        foreach (var c in text.Length > 60 ? text[..60] : text)
            printable.Append(c < 0x20 || char.IsSurrogate(c) || c is '\u2028' or '\u2029' or '\uFEFF' or '\u007f' ? $"\\u{(int)c:x4}" : c);
        return text.Length > 60 ? $"'{printable}…' ({text.Length} chars)" : $"'{printable}'";
    }

    private static string? Check(byte[] bytes)
    {
        string text;
        try
        {
            text = Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return "invalid UTF-8 (a lone surrogate or bad bytes)";
        }
        return Check(text);
    }

    private static string? Check(string text)
    {
        if (text.Contains('\0'))
            return "NUL";
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(text[i]))
                return "lone surrogate";
        }
        if (text.Length > 0 && text[0] is '{' or '[' or '"') // a payload is any JSON value, a bare string too
            return CheckJson(text);
        return null;
    }

    private static string? CheckJson(string text)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 2000 });
        }
        catch (JsonException)
        {
            return null; // text that only looks like JSON
        }
        using (document)
            return CheckElement(document.RootElement);
    }

    private static string? CheckElement(JsonElement element)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    return element.GetString()!.Contains('\0') ? "JSON holding \\u0000" : null;
                case JsonValueKind.Array:
                    return element.EnumerateArray().Select(CheckElement).FirstOrDefault(p => p is not null);
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        if (property.Name.Contains('\0'))
                            return "JSON holding \\u0000";
                        if (CheckElement(property.Value) is { } problem)
                            return problem;
                    }
                    return null;
                default:
                    return null;
            }
        }
        catch (InvalidOperationException)
        {
            return "JSON holding a lone-surrogate escape"; // GetString refuses invalid UTF-16
        }
    }
}
