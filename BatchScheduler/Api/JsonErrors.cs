using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace BatchScheduler.Api;

/// <summary>
/// Says in plain words what a <see cref="JsonException"/> found wrong with JSON a client sent: where
/// the text stops being JSON, or which field is unknown or holds the wrong kind of value. The
/// exception's own message names .NET types and parser internals, so it never reaches an answer.
/// </summary>
internal static class JsonErrors
{
    /// <summary>
    /// Why <paramref name="json"/> is not JSON, with the line and position; null when a reader finds no
    /// fault (the text is JSON, and what was refused was its shape or a repeated field). The reason
    /// completes a sentence whose subject is the text ("it …"); <paramref name="lines"/> false leaves
    /// out the line (a JSON Lines record is one line).
    /// </summary>
    public static string? NotJson(ReadOnlySpan<byte> json, int maxDepth, bool lines)
    {
        var options = new JsonReaderOptions { MaxDepth = maxDepth };
        var reader = new Utf8JsonReader(json, options);
        try
        {
            while (reader.Read())
            {
            }
            return null;
        }
        catch (JsonException ex)
        {
            // The reader refuses the token that would go one level deeper than allowed.
            if (reader.CurrentDepth >= maxDepth - 1)
                return $"nests objects and arrays more than {maxDepth} levels deep{At(ex, lines)}";
            // Read as the start of a longer text, the JSON either has a fault of its own or only lacks its end.
            return Fault(json, options, lines) ?? $"ends before the JSON is complete (an object, array or string is not closed){End(json, lines)}";
        }
    }

    private static string? Fault(ReadOnlySpan<byte> json, JsonReaderOptions options, bool lines)
    {
        var reader = new Utf8JsonReader(json, isFinalBlock: false, new JsonReaderState(options));
        try
        {
            while (reader.Read())
            {
            }
            return null;
        }
        catch (JsonException ex)
        {
            var rest = json[Offset(json, ex)..];
            return rest.IsEmpty ? null : $"has {Unexpected(rest)} where JSON does not allow it{At(ex, lines)}";
        }
    }

    /// <summary>
    /// What is wrong with the shape of a body read as <paramref name="root"/>: an unknown field (with
    /// the fields allowed there) or a value of the wrong kind (with the kind expected), named by its path.
    /// </summary>
    public static string Shape(JsonException ex, Type root, JsonSerializerOptions options)
    {
        var segments = Segments(ex.Path);
        var type = root;
        for (var i = 0; i < segments.Count - 1; i++)
        {
            if (Child(options.GetTypeInfo(type), segments[i]) is not { } child)
                return $"'{Display(segments)}' holds a value of the wrong kind{At(ex)}.";
            type = child;
        }
        if (segments.Count == 0)
            return $"The request body must be {Expected(root, options)}.";
        var info = options.GetTypeInfo(type);
        if (segments[^1] is string name && Property(info, name) is null)
        {
            var allowed = string.Join(", ", Settable(info).Select(p => p.Name));
            return $"Unknown field '{Display(segments)}' (allowed: {allowed}){At(ex)}.";
        }
        return Child(info, segments[^1]) is { } expected
            ? $"'{Display(segments)}' must be {Expected(expected, options)}{At(ex)}."
            : $"'{Display(segments)}' holds a value of the wrong kind{At(ex)}.";
    }

    private static Type? Child(JsonTypeInfo info, object segment) => segment switch
    {
        string name => Property(info, name)?.PropertyType is { } t ? Nullable.GetUnderlyingType(t) ?? t : null,
        _ => info.ElementType is { } e ? Nullable.GetUnderlyingType(e) ?? e : null,
    };

    // Bodies are read with the web defaults: property names match ignoring case.
    private static JsonPropertyInfo? Property(JsonTypeInfo info, string name) =>
        info.Kind == JsonTypeInfoKind.Object
            ? Settable(info).FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
            : null;

    private static IEnumerable<JsonPropertyInfo> Settable(JsonTypeInfo info) =>
        info.Properties.Where(p => p.Set is not null || p.AssociatedParameter is not null);

    private static string Expected(Type type, JsonSerializerOptions options)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string))
            return "a string";
        if (type == typeof(bool))
            return "true or false";
        if (type == typeof(JsonElement))
            return "a JSON value";
        if (type.IsPrimitive || type == typeof(decimal))
            return "a number";
        return options.GetTypeInfo(type).Kind switch
        {
            JsonTypeInfoKind.Enumerable => "an array",
            JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "a JSON object",
            _ => "a different kind of value",
        };
    }

    /// <summary>The serializer's path (<c>$.items[2].tier</c>, <c>$['odd name']</c>) as names and indexes.</summary>
    private static List<object> Segments(string? path)
    {
        var segments = new List<object>();
        if (string.IsNullOrEmpty(path))
            return segments;
        var i = path[0] == '$' ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = path.IndexOfAny(['.', '['], i + 1);
                end = end < 0 ? path.Length : end;
                segments.Add(path[(i + 1)..end]);
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['"))
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                end = end < 0 ? path.Length : end;
                segments.Add(path[(i + 2)..end]);
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                end = end < 0 ? path.Length : end;
                segments.Add(int.TryParse(path.AsSpan(i + 1, end - i - 1), out var index) ? index : -1);
                i = end + 1;
            }
            else
            {
                break;
            }
        }
        return segments;
    }

    private static string Display(List<object> segments)
    {
        var text = new StringBuilder();
        foreach (var segment in segments)
        {
            if (segment is int index)
                text.Append('[').Append(index).Append(']');
            else
                text.Append(text.Length == 0 ? "" : ".").Append(segment);
        }
        return TextRules.Printable(text.ToString());
    }

    private static string At(JsonException ex, bool lines = true) =>
        ex.LineNumber is not { } line ? ""
        : lines ? $" (line {line + 1}, position {ex.BytePositionInLine + 1})"
        : $" (position {ex.BytePositionInLine + 1})";

    /// <summary>Where the text ends, as the reader would count it.</summary>
    private static string End(ReadOnlySpan<byte> json, bool lines)
    {
        var last = json.TrimEnd(" \t\r\n"u8);
        var position = last.Length - (last.LastIndexOf((byte)'\n') + 1) + 1;
        return lines ? $" (line {last.Count((byte)'\n') + 1}, position {position})" : $" (position {position})";
    }

    private static int Offset(ReadOnlySpan<byte> json, JsonException ex)
    {
        var offset = 0;
        for (var line = 0L; line < (ex.LineNumber ?? 0); line++)
        {
            var next = json[offset..].IndexOf((byte)'\n');
            if (next < 0)
                return json.Length;
            offset += next + 1;
        }
        return (int)Math.Min(json.Length, offset + (ex.BytePositionInLine ?? 0));
    }

    private static string Unexpected(ReadOnlySpan<byte> rest)
    {
        if (Rune.DecodeFromUtf8(rest, out var rune, out _) != OperationStatus.Done)
            return $"the byte 0x{rest[0]:X2}";
        return Rune.IsControl(rune) || Rune.IsWhiteSpace(rune) ? $"the character U+{rune.Value:X4}" : $"'{rune}'";
    }
}
