using System.Runtime.CompilerServices;
using System.Text.Json;
using BatchScheduler.Api;

namespace BatchScheduler.Batches;

/// <summary>JSON Lines: one JSON object per line.</summary>
internal static class JsonlRecords
{
    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false, MaxDepth = 64 };

    public static async IAsyncEnumerable<BatchFileEntry> ReadAsync(Stream body, BatchFileLimits limits, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var line in new Utf8LineReader(body, limits.MaxRecordBytes).ReadAsync(cancellationToken))
        {
            if (line.Problem(limits.MaxRecordBytes) is { } problem)
                yield return BatchRecord.Invalid(line.Number, null, problem);
            else if (!BatchRecord.IsBlank(line.Bytes.Span))
                yield return Parse(line, limits);
        }
    }

    private static BatchFileEntry Parse(RawLine line, BatchFileLimits limits)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line.Bytes, Strict);
        }
        catch (JsonException)
        {
            // The parser's message names its internals; JsonErrors says where the line stops being JSON.
            return BatchRecord.Invalid(line.Number, null, JsonErrors.NotJson(line.Bytes.Span, Strict.MaxDepth, lines: false) is { } notJson
                ? $"malformed JSON: the record {notJson}"
                : "malformed JSON: a field name appears more than once in the record");
        }
        catch (InvalidOperationException) when (TextRules.RejectJson(line.Bytes.Span, "record") is { } textError)
        {
            // The duplicate-name check decodes every field name and throws on an unpaired surrogate.
            return BatchRecord.Invalid(line.Number, null, textError);
        }
        using (document)
            return FromObject(line.Number, document.RootElement, limits);
    }

    private static BatchFileEntry FromObject(long number, JsonElement root, BatchFileLimits limits)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return BatchRecord.Invalid(number, null, $"record is not a JSON object but {Describe(root)}");
        if (BatchRecord.RejectText(root) is { } textError)
            return BatchRecord.Invalid(number, null, textError);
        var errors = new List<string>();
        var found = new Dictionary<string, JsonElement>();
        var others = 0;
        foreach (var property in root.EnumerateObject())
        {
            if (BatchRecord.Reserved(property.Name) is not { } field)
                others++;
            else if (!found.TryAdd(field, property.Value))
                errors.Add($"{field} appears more than once");
        }
        var entityId = ReadEntityId(found.GetValueOrDefault(BatchRecord.EntityId), errors);
        if (entityId is not null && BatchRecord.RejectEntityId(entityId, limits) is { } idError)
            errors.Add(idError);
        var dataType = ReadOptional(found, BatchRecord.DataType, errors);
        var tier = ReadOptional(found, BatchRecord.Tier, errors);
        var runAt = ReadOptional(found, BatchRecord.RunAt, errors);
        if (errors.Count > 0)
            return BatchRecord.Invalid(number, entityId, string.Join("; ", errors));
        var payload = others == 0 ? null : BatchRecord.Payload(root, static (writer, record) =>
        {
            foreach (var property in record.EnumerateObject())
                if (BatchRecord.Reserved(property.Name) is null)
                    property.WriteTo(writer);
        });
        return new BatchFileEntry(number, entityId, dataType, tier, payload, null, runAt);
    }

    private static string? ReadEntityId(JsonElement value, List<string> errors)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Undefined:
                errors.Add("entityId is missing");
                return null;
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Number when value.GetRawText() is var text && text.AsSpan().IndexOfAny(".eE") < 0:
                return text;
            default:
                errors.Add($"entityId must be a string or an integer, not {Describe(value)}");
                return null;
        }
    }

    // A null dataType, tier or runAt means absent, as when a serializer writes the nulls of optional fields.
    private static string? ReadOptional(Dictionary<string, JsonElement> found, string field, List<string> errors)
    {
        if (!found.TryGetValue(field, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString();
        errors.Add($"{field} must be a string, not {Describe(value)}");
        return null;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
