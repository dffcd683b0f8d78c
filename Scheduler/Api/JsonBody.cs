using System.Text.Json;

namespace BatchScheduler.Api;

/// <summary>
/// Reads a JSON request body so that malformed input gets a 400 naming the line and position,
/// rather than the framework's bare 400.
/// </summary>
internal static class JsonBody
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    public static async Task<(T? Value, string? Error)> ReadAsync<T>(HttpRequest request, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength == 0)
            return (null, "The request body is empty; send a JSON object.");
        if (request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
            return (null, $"Content-Type '{type}' is not JSON; send application/json.");
        try
        {
            var value = await JsonSerializer.DeserializeAsync<T>(request.Body, Options, cancellationToken);
            return value is null ? (null, "The request body is JSON null; send a JSON object.") : (value, null);
        }
        catch (JsonException ex)
        {
            var where = ex.LineNumber is { } line ? $" at line {line + 1}, position {ex.BytePositionInLine + 1}" : "";
            var path = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" (field {ex.Path})";
            return (null, $"Malformed JSON{where}{path}: {FirstSentence(ex.Message)}");
        }
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
