using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using BatchScheduler.Api;

namespace BatchScheduler.Batches;

/// <summary>The field rules and messages both formats share.</summary>
internal static class BatchRecord
{
    public const string EntityId = "entityId", DataType = "dataType", Tier = "tier", RunAt = "runAt";

    // Payloads are stored and handed to executors, never put into HTML, so non-ASCII text stays readable.
    private static readonly JsonWriterOptions PayloadJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The reserved field a name means (matched ignoring case, as the HTTP API binds JSON), or null.</summary>
    public static string? Reserved(string name) =>
        name.Equals(EntityId, StringComparison.OrdinalIgnoreCase) ? EntityId
        : name.Equals(DataType, StringComparison.OrdinalIgnoreCase) ? DataType
        : name.Equals(Tier, StringComparison.OrdinalIgnoreCase) ? Tier
        : name.Equals(RunAt, StringComparison.OrdinalIgnoreCase) ? RunAt
        : null;

    public static string? RejectEntityId(string entityId, BatchFileLimits limits) =>
        string.IsNullOrWhiteSpace(entityId) ? "entityId is empty"
        : entityId.Length > limits.MaxEntityIdLength ? $"entityId is {entityId.Length} characters long, over the limit of {limits.MaxEntityIdLength}"
        : null;

    /// <summary>
    /// Why a JSON record breaks the text rule (docs/security.md, "Text"), naming the field
    /// (<c>entityId</c>, <c>tier</c>, <c>dataType</c>, <c>runAt</c> or <c>payload.x</c>), or null. Checked before any
    /// field is read, so that no bad text reaches a string, the payload or the database.
    /// </summary>
    public static string? RejectText(JsonElement record)
    {
        foreach (var property in record.EnumerateObject())
        {
            if (TextRules.RejectJsonString(JsonMarshal.GetRawUtf8PropertyName(property), "payload (a field name)") is { } nameError)
                return nameError;
            if (TextRules.RejectJson(JsonMarshal.GetRawUtf8Value(property.Value), Reserved(property.Name) ?? $"payload.{property.Name}") is { } valueError)
                return valueError;
        }
        return null;
    }

    public static string TooLarge(string bytes, int limit) => $"record is {bytes} bytes, over the limit of {limit} bytes";

    public static string NotUtf8(long line, int offset, byte value) => $"line {line} is not valid UTF-8 (byte 0x{value:X2} at column {offset + 1})";

    public static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r"u8) < 0;

    public static BatchFileEntry Invalid(long line, string? entityId, string error) =>
        new(line, string.IsNullOrWhiteSpace(entityId) ? null : entityId, null, null, null, error);

    /// <summary>A compact JSON object written by <paramref name="write"/>.</summary>
    public static string Payload<TState>(TState state, Action<Utf8JsonWriter, TState> write)
    {
        var output = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(output, PayloadJson))
        {
            writer.WriteStartObject();
            write(writer, state);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }
}
