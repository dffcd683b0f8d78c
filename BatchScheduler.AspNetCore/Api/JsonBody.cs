using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace BatchScheduler.Api;

/// <summary>
/// What a route lets a JSON body be: at most <see cref="MaxBytes"/> bytes and <see cref="MaxValues"/>
/// values, and when <see cref="MaxItems"/> is set, at most that many entries in the root object's
/// <c>items</c> array. The setting names go into the answers that refuse a body.
/// </summary>
internal sealed record JsonBodyLimits(
    int MaxBytes, string MaxBytesSetting, int MaxValues, string MaxValuesSetting, int? MaxItems = null, string? MaxItemsSetting = null);

/// <summary>
/// Reads a JSON request body so that whatever is wrong with it gets a 4xx naming what was wrong and
/// where (the line and position, the limit and its setting), never the framework's bare 400 or a 500.
/// </summary>
/// <remarks>
/// The body is read into one pooled buffer no larger than the route's byte limit (a declared
/// Content-Length over it is refused before a byte is read), checked to be UTF-8, and scanned once
/// with <see cref="Utf8JsonReader"/> counting values and items; only a body within every limit is
/// deserialised. So a request holds at most its byte limit plus what its values become.
/// </remarks>
internal static class JsonBody
{
    /// <summary>
    /// The web defaults, and a field the body's type does not have is refused: ignoring a misspelt
    /// <c>"payloadd"</c> would store the item without its payload. Members of a <see cref="JsonElement"/>
    /// (a work item's payload) are the client's own and not checked.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    // The serializer's own default depth: a body it would refuse is refused while counting, with a plain reason.
    private const int MaxDepth = 64;

    private const int FirstRead = 16 * 1024;

    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request, JsonBodyLimits limits, CancellationToken cancellationToken)
        where T : class
    {
        if (request.ContentLength == 0 || request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
            return (null, ApiProblems.BadRequest("The request body is empty; send a JSON object."));
        if (RejectContentType(request.ContentType) is { } typeError)
            return (null, ApiProblems.UnsupportedMediaType(typeError));
        if (request.ContentLength > limits.MaxBytes)
            return (null, TooLarge(limits, request.ContentLength));
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = limits.MaxBytes;

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? FirstRead, limits.MaxBytes) + 1);
        try
        {
            var length = 0;
            while (true)
            {
                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * buffer.Length, limits.MaxBytes + 1L));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
                int read;
                try
                {
                    read = await request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limits.MaxBytes + 1) - length), cancellationToken);
                }
                catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    return (null, TooLarge(limits, null));
                }
                catch (Exception ex) when (ex is BadHttpRequestException or IOException)
                {
                    // The client broke off or sent a malformed body: no one may read the answer, but it is theirs, not the node's error.
                    return (null, ApiProblems.BadRequest($"The request body ended early after {length:N0} bytes: {ex.Message}"));
                }
                if (read == 0)
                    break;
                length += read;
                if (length > limits.MaxBytes)
                    return (null, TooLarge(limits, null));
            }
            return Parse<T>(buffer.AsSpan(0, length), limits);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Null for <c>application/json</c> or <c>application/*+json</c> in UTF-8; else what to send instead.</summary>
    public static string? RejectContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType))
            return "The request has a body but no Content-Type; send it as application/json.";
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !media.Type.Equals("application", StringComparison.OrdinalIgnoreCase)
            || !(media.SubType.Equals("json", StringComparison.OrdinalIgnoreCase) || media.SubType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            return $"Content-Type '{contentType}' is not JSON; send application/json (or application/*+json).";
        }
        if (media.Charset is { Length: > 0 } charset && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            return $"Content-Type '{contentType}' names charset '{charset}'; JSON bodies are read as UTF-8 only.";
        }
        return null;
    }

    private static (T? Value, ProblemHttpResult? Problem) Parse<T>(ReadOnlySpan<byte> body, JsonBodyLimits limits)
        where T : class
    {
        if (body.StartsWith("\uFEFF"u8))
            body = body[3..];
        if (body.IsEmpty)
            return (null, ApiProblems.BadRequest("The request body is empty; send a JSON object."));
        if (!Utf8.IsValid(body))
            return (null, ApiProblems.BadRequest(NotUtf8(body)));
        try
        {
            var (values, items) = Count(body);
            if (values > limits.MaxValues)
            {
                return (null, ApiProblems.PayloadTooLarge(
                    $"The request body holds {values:N0} JSON values; the limit is {limits.MaxValues:N0} ({limits.MaxValuesSetting})."));
            }
            if (limits.MaxItems is { } maxItems && items > maxItems)
                return (null, ApiProblems.BadRequest($"items has {items} entries; send at most {maxItems} per request ({limits.MaxItemsSetting})."));
            var value = JsonSerializer.Deserialize<T>(body, Options);
            return value is null ? (null, ApiProblems.BadRequest("The request body is JSON null; send a JSON object.")) : (value, null);
        }
        catch (JsonException ex)
        {
            // The reader's and serializer's messages name .NET types and parser internals; say it in the body's terms.
            if (JsonErrors.NotJson(body, MaxDepth, lines: true) is { } notJson)
                return (null, ApiProblems.BadRequest($"The request body is not valid JSON: it {notJson}."));
            if (TextRules.RejectJson(body, "body") is { } textError)
                return (null, ApiProblems.BadRequest(textError));
            return (null, ApiProblems.BadRequest(JsonErrors.Shape(ex, typeof(T), Options)));
        }
    }

    /// <summary>Every value in the body, and the entries of the root object's <c>items</c> array; throws <see cref="JsonException"/> where the JSON is malformed.</summary>
    private static (long Values, long Items) Count(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = MaxDepth });
        long values = 0, items = 0;
        bool itemsNext = false, inItems = false;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    if (reader.CurrentDepth == 1)
                        itemsNext = IsItems(ref reader);
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray or JsonTokenType.Comment:
                    break;
                default:
                    values++;
                    if (reader.CurrentDepth == 1)
                        (inItems, itemsNext) = (itemsNext && reader.TokenType == JsonTokenType.StartArray, false);
                    else if (reader.CurrentDepth == 2 && inItems)
                        items++;
                    break;
            }
        }
        return (values, items);
    }

    // The serializer matches property names ignoring case (web defaults), so "Items" is the same field.
    private static bool IsItems(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped)
            return Ascii.EqualsIgnoreCase(reader.ValueSpan, "items"u8);
        if (reader.ValueSpan.Length > 64)
            return false;
        try
        {
            return string.Equals(reader.GetString(), "items", StringComparison.OrdinalIgnoreCase);
        }
        catch (InvalidOperationException)
        {
            return false; // not valid Unicode, so not "items"; deserialising reports it
        }
    }

    private static string NotUtf8(ReadOnlySpan<byte> body)
    {
        var offset = 0;
        while (Rune.DecodeFromUtf8(body[offset..], out _, out var consumed) == OperationStatus.Done)
            offset += consumed;
        var before = body[..offset];
        var line = before.Count((byte)'\n') + 1;
        var column = offset - (before.LastIndexOf((byte)'\n') + 1) + 1;
        return $"The request body is not valid UTF-8: byte 0x{body[offset]:X2} at line {line}, position {column} (byte {offset + 1} of the body); send JSON as UTF-8.";
    }

    private static ProblemHttpResult TooLarge(JsonBodyLimits limits, long? declared) =>
        ApiProblems.PayloadTooLarge(declared is { } bytes
            ? $"The request body is {bytes:N0} bytes; the limit for this route is {limits.MaxBytes:N0} bytes ({limits.MaxBytesSetting})."
            : $"The request body is over this route's limit of {limits.MaxBytes:N0} bytes ({limits.MaxBytesSetting}).");
}
