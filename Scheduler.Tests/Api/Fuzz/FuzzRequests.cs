using System.Text;
using System.Text.Json;

namespace BatchScheduler.Tests.Api.Fuzz;

/// <summary>One hostile request: the operation it aims at, which input was made hostile and how, and what to send.</summary>
public sealed record FuzzRequest(string Operation, string Target, string Class, HttpMethod Method, string PathAndQuery, byte[]? Body, string? ContentType)
{
    public override string ToString() => $"{Operation} [{Target} <- {Class}]";
}

/// <summary>
/// Turns every operation of the OpenAPI document into hostile requests: each path and query
/// parameter in turn gets each hostile value (the others keep a valid value, so the hostile one is
/// what the route has to deal with); each JSON body field in turn gets each hostile JSON value; the
/// whole body gets raw cases (invalid UTF-8, truncated, deep, wrong content type); batch files get
/// records holding the hostile values, between two valid records.
/// </summary>
public sealed class FuzzRequests(JsonElement document, IReadOnlyDictionary<string, string> pathValues, int seed)
{
    public const int RandomPerTarget = 3;
    private const string DataType = "t";
    private int _unique;

    private string Unique() => $"fuzz-{Interlocked.Increment(ref _unique)}";

    /// <summary>Every operation's requests, deletions first and writes last (so what was stored is still there to be read afterwards).</summary>
    public IEnumerable<FuzzRequest> All()
    {
        var operations = new List<(string Method, string Path, JsonElement Operation)>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject().Where(o => o.Name is "get" or "put" or "post" or "delete" or "patch"))
                operations.Add((operation.Name.ToUpperInvariant(), path.Name, operation.Value));
        }
        static int Order(string method) => method switch { "DELETE" => 0, "GET" => 1, _ => 2 };
        foreach (var (method, path, operation) in operations.OrderBy(o => Order(o.Method)).ThenBy(o => o.Path, StringComparer.Ordinal))
        {
            foreach (var request in ForOperation(method, path, operation))
                yield return request;
        }
        // The dashboard's files are left out of the document but take a path from anyone: path tricks there too.
        const string dashboard = "GET /dashboard/{path}";
        var paths = StringsFor($"{dashboard} path").Select(s => (s.Class, Encoded: HostileValues.UrlEncode(s.Text)))
            .Concat(HostileValues.UrlEncoded.Select(u => (u.Class, Encoded: u.Raw)))
            .Append(("raw traversal", "../../appsettings.json")).Append(("encoded traversal", "..%2F..%2Fappsettings.json"));
        foreach (var (name, encoded) in paths)
            yield return new FuzzRequest(dashboard, "path path", name, HttpMethod.Get, $"/dashboard/{encoded}", null, null);
    }

    private IEnumerable<(string Class, string Text)> StringsFor(string target) =>
        HostileValues.Strings.Concat(HostileValues.Random(new Random(seed ^ HostileValues.StableHash(target)), RandomPerTarget));

    private IEnumerable<FuzzRequest> ForOperation(string method, string path, JsonElement operation)
    {
        var key = $"{method} {path}";
        var parameters = operation.TryGetProperty("parameters", out var declared)
            ? declared.EnumerateArray().Select(p => (Name: p.GetProperty("name").GetString()!, In: p.GetProperty("in").GetString()!)).ToList()
            : [];
        var pathParameters = parameters.Where(p => p.In == "path").Select(p => p.Name).ToList();
        var queryParameters = parameters.Where(p => p.In == "query").Select(p => p.Name).ToList();
        var (contentType, bodySchema) = Body(operation);

        string Url(string? hostileParameter, string? encodedValue, string? hostileQuery)
        {
            var url = path;
            foreach (var name in pathParameters)
                url = url.Replace($"{{{name}}}", name == hostileParameter ? encodedValue : HostileValues.UrlEncode(PathValue(path, name)), StringComparison.Ordinal);
            var query = new List<string>();
            if (path == "/api/batches" && method == "POST" && hostileQuery != "dataType")
                query.Add($"dataType={DataType}");
            if (hostileQuery is not null)
                query.Add($"{hostileQuery}={encodedValue}");
            return query.Count == 0 ? url : $"{url}?{string.Join('&', query)}";
        }
        byte[]? ValidBody() => contentType switch
        {
            "application/json" => BuildJson(bodySchema, "", null, null),
            "application/x-ndjson" => Encoding.UTF8.GetBytes($"{{\"entityId\":\"{Unique()}\"}}\n"),
            _ => null,
        };

        // Without parameters or body: the route as it is, and with a hostile query nobody declared.
        if (parameters.Count == 0 && contentType is null)
        {
            yield return new FuzzRequest(key, "none", "as described", new HttpMethod(method), path, null, null);
            foreach (var (name, text) in StringsFor($"{key} undeclared query").Where(s => s.Text.Length < 1000))
                yield return new FuzzRequest(key, "query (undeclared) x", name, new HttpMethod(method), $"{path}?x={HostileValues.UrlEncode(text)}", null, null);
        }
        foreach (var parameter in parameters)
        {
            var target = $"{parameter.In} {parameter.Name}";
            var values = StringsFor($"{key} {target}").Select(s => (s.Class, Encoded: HostileValues.UrlEncode(s.Text)))
                .Concat(HostileValues.UrlEncoded.Select(u => (u.Class, Encoded: u.Raw)));
            foreach (var (name, encoded) in values)
            {
                var url = parameter.In == "path" ? Url(parameter.Name, encoded, null) : Url(null, encoded, parameter.Name);
                yield return new FuzzRequest(key, target, name, new HttpMethod(method), url, ValidBody(), contentType);
            }
        }
        if (contentType == "application/json")
        {
            foreach (var field in Fields(bodySchema, "", 0))
            {
                foreach (var hostile in HostileValues.Json(StringsFor($"{key} body {field}")))
                    yield return new FuzzRequest(key, $"body {field}", hostile.Class, new HttpMethod(method), Url(null, null, null), BuildJson(bodySchema, "", field, hostile.Bytes), contentType);
            }
            foreach (var (name, body, type) in RawJsonBodies(ValidBody()!))
                yield return new FuzzRequest(key, "body (whole)", name, new HttpMethod(method), Url(null, null, null), body, type);
        }
        else if (contentType is "application/x-ndjson")
        {
            foreach (var request in BatchFiles(key, method, Url(null, null, null)))
                yield return request;
        }
    }

    /// <summary>The valid value of a path parameter: the data type, an item that exists, a batch that exists, a failure id.</summary>
    private string PathValue(string path, string name) => name switch
    {
        "dataType" => DataType,
        "entityId" => pathValues["entityId"],
        "id" when path.StartsWith("/api/batches", StringComparison.Ordinal) => pathValues["batchId"],
        "id" => "1",
        _ => "x",
    };

    private (string? ContentType, JsonElement Schema) Body(JsonElement operation)
    {
        if (!operation.TryGetProperty("requestBody", out var body))
            return (null, default);
        var content = body.GetProperty("content");
        if (content.TryGetProperty("application/json", out var json))
            return ("application/json", Resolve(json.GetProperty("schema")));
        return content.TryGetProperty("application/x-ndjson", out _) ? ("application/x-ndjson", default) : (null, default);
    }

    /// <summary>Follows <c>$ref</c> into components, and a nullable <c>oneOf</c>/<c>anyOf</c> to its non-null branch.</summary>
    private JsonElement Resolve(JsonElement schema)
    {
        if (schema.ValueKind != JsonValueKind.Object)
            return schema;
        if (schema.TryGetProperty("$ref", out var reference))
            return Resolve(document.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!.Split('/')[^1]));
        foreach (var combinator in new[] { "oneOf", "anyOf" })
        {
            if (schema.TryGetProperty(combinator, out var options) && options.EnumerateArray().FirstOrDefault(o => !IsNull(o)) is { ValueKind: JsonValueKind.Object } branch)
                return Resolve(branch);
        }
        return schema;

        static bool IsNull(JsonElement s) => s.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "null";
    }

    private static bool Has(JsonElement schema, string type) =>
        schema.TryGetProperty("type", out var t) && (t.ValueKind == JsonValueKind.String ? t.GetString() == type : t.EnumerateArray().Any(x => x.GetString() == type));

    /// <summary>The paths of every field of a body schema: <c>items[].payload</c>.</summary>
    private IEnumerable<string> Fields(JsonElement schema, string prefix, int depth)
    {
        schema = Resolve(schema);
        if (depth > 4 || schema.ValueKind != JsonValueKind.Object)
            yield break;
        if (schema.TryGetProperty("properties", out var properties))
        {
            foreach (var property in properties.EnumerateObject())
            {
                var field = prefix.Length == 0 ? property.Name : $"{prefix}.{property.Name}";
                yield return field;
                foreach (var inner in Fields(property.Value, field, depth + 1))
                    yield return inner;
            }
        }
        else if (Has(schema, "array") && schema.TryGetProperty("items", out var items))
        {
            var field = $"{prefix}[]";
            yield return field;
            foreach (var inner in Fields(items, field, depth + 1))
                yield return inner;
        }
    }

    /// <summary>A valid body for the schema, with <paramref name="hostile"/> in place of the field <paramref name="target"/>.</summary>
    private byte[] BuildJson(JsonElement schema, string path, string? target, byte[]? hostile)
    {
        using var body = new MemoryStream();
        Write(body, schema, path, null, target, hostile, 0);
        return body.ToArray();
    }

    private void Write(MemoryStream body, JsonElement schema, string path, string? name, string? target, byte[]? hostile, int depth)
    {
        if (target is not null && path == target)
        {
            body.Write(hostile);
            return;
        }
        schema = Resolve(schema);
        void Text(string s) => body.Write(Encoding.UTF8.GetBytes(s));
        if (schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("properties", out var properties) && depth < 6)
        {
            Text("{");
            var first = true;
            foreach (var property in properties.EnumerateObject())
            {
                if (!first)
                    Text(",");
                first = false;
                Text($"\"{property.Name}\":");
                Write(body, property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}", property.Name, target, hostile, depth + 1);
            }
            Text("}");
        }
        else if (schema.ValueKind == JsonValueKind.Object && Has(schema, "array") && schema.TryGetProperty("items", out var items) && depth < 6)
        {
            Text("[");
            Write(body, items, $"{path}[]", name, target, hostile, depth + 1);
            Text("]");
        }
        else
        {
            Text(name switch
            {
                "dataType" => $"\"{DataType}\"",
                "entityId" => $"\"{Unique()}\"",
                "tier" => "null",
                _ when Has(schema, "string") => "\"x\"",
                _ when Has(schema, "integer") || Has(schema, "number") => "1",
                _ when Has(schema, "boolean") => "true",
                _ => """{"k":"v"}""",
            });
        }
    }

    /// <summary>Whole bodies a careless or hostile client sends instead of the JSON asked for.</summary>
    private static IEnumerable<(string Class, byte[] Body, string? ContentType)> RawJsonBodies(byte[] valid)
    {
        yield return ("invalid UTF-8 body", [0xFF, 0xFE, 0x00, (byte)'{'], "application/json");
        yield return ("invalid UTF-8 inside a valid body", [.. valid[..^1], (byte)',', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}'], "application/json");
        yield return ("empty body", [], "application/json");
        yield return ("not JSON", "hello"u8.ToArray(), "application/json");
        yield return ("truncated JSON", valid[..(valid.Length / 2)], "application/json");
        yield return ("JSON null", "null"u8.ToArray(), "application/json");
        yield return ("JSON array", "[]"u8.ToArray(), "application/json");
        yield return ("JSON string", "\"\\ud800\""u8.ToArray(), "application/json");
        yield return ("byte order mark before JSON", [0xEF, 0xBB, 0xBF, .. valid], "application/json");
        yield return ("UTF-16 body", Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(valid)), "application/json; charset=utf-16");
        yield return ("text/plain content type", valid, "text/plain");
        yield return ("no content type", valid, null);
        yield return ("nested 100k deep", Encoding.UTF8.GetBytes(new string('[', 100_000) + new string(']', 100_000)), "application/json");
        yield return ("trailing garbage", [.. valid, (byte)'}', (byte)'x'], "application/json");
        yield return ("two documents", [.. valid, .. valid], "application/json");
    }

    /// <summary>Batch files: a valid record, a record holding the hostile value (as entity id, then as a payload field), a valid record.</summary>
    private IEnumerable<FuzzRequest> BatchFiles(string key, string method, string url)
    {
        byte[] Line(string s) => Encoding.UTF8.GetBytes(s + "\n");
        byte[] Jsonl(params byte[][] hostileLines) => [.. Line($"{{\"entityId\":\"{Unique()}\"}}"), .. hostileLines.SelectMany(l => l), .. Line($"{{\"entityId\":\"{Unique()}\"}}")];
        foreach (var hostile in HostileValues.Json(StringsFor($"{key} record")).Where(h => h.Bytes.Length < 500_000))
        {
            yield return new FuzzRequest(key, "jsonl record entityId", hostile.Class, new HttpMethod(method), url,
                Jsonl([.. "{\"entityId\":"u8, .. hostile.Bytes, .. "}\n"u8]), "application/x-ndjson");
            yield return new FuzzRequest(key, "jsonl record payload field", hostile.Class, new HttpMethod(method), url,
                Jsonl([.. Encoding.UTF8.GetBytes($"{{\"entityId\":\"{Unique()}\",\"v\":"), .. hostile.Bytes, .. "}\n"u8]), "application/x-ndjson");
        }
        yield return new FuzzRequest(key, "jsonl record (whole)", "invalid UTF-8 line", new HttpMethod(method), url, Jsonl([0xFF, 0xFE, 0x0A]), "application/x-ndjson");
        yield return new FuzzRequest(key, "jsonl record (whole)", "raw NUL line", new HttpMethod(method), url, Jsonl([0x00, 0x0A]), "application/x-ndjson");
        yield return new FuzzRequest(key, "jsonl record (whole)", "no final newline", new HttpMethod(method), url, Line("{\"entityId\":\"" + Unique() + "\"}")[..^1], "application/x-ndjson");
        yield return new FuzzRequest(key, "jsonl record (whole)", "empty file", new HttpMethod(method), url, [], "application/x-ndjson");
        foreach (var (name, text) in StringsFor($"{key} csv").Where(s => s.Text.Length < 500_000))
        {
            var quoted = HostileValues.Wtf8("\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"");
            byte[] csv(byte[] row) => [.. "entityId,v\n"u8, .. Encoding.UTF8.GetBytes(Unique() + ",ok\n"), .. row, .. Encoding.UTF8.GetBytes("\n" + Unique() + ",ok\n")];
            yield return new FuzzRequest(key, "csv entityId", name, new HttpMethod(method), url, csv([.. quoted, .. ",ok"u8]), "text/csv");
            yield return new FuzzRequest(key, "csv column", name, new HttpMethod(method), url, csv([.. Encoding.UTF8.GetBytes(Unique() + ","), .. quoted]), "text/csv");
        }
        yield return new FuzzRequest(key, "csv record (whole)", "invalid UTF-8 row", new HttpMethod(method), url, [.. "entityId,v\n"u8, 0xFF, 0xFE, (byte)',', (byte)'x', 0x0A], "text/csv");
        yield return new FuzzRequest(key, "csv record (whole)", "unterminated quote", new HttpMethod(method), url, "entityId,v\n\"abc,x\n"u8.ToArray(), "text/csv");
    }
}
