using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using CsvHelper;

namespace BatchScheduler.Batches;

/// <summary>The formats an upstream system may submit a batch file in.</summary>
public enum BatchFormat { Jsonl, Csv }

/// <summary>Limits on one record.</summary>
/// <param name="MaxRecordBytes">The largest record, in bytes of UTF-8 without its final line break (a CSV record with
/// quoted line breaks counts them); a longer one is reported as invalid and skipped, never read into memory.</param>
/// <param name="MaxEntityIdLength">The longest entity id, in characters.</param>
public sealed record BatchFileLimits(int MaxRecordBytes = 1_048_576, int MaxEntityIdLength = 200);

/// <summary>
/// One record of the file: either valid (<see cref="Error"/> null, <see cref="EntityId"/> non-null) or invalid
/// (<see cref="Error"/> says why). <see cref="Line"/> is the 1-based physical line where the record starts.
/// <see cref="DataType"/> and <see cref="Tier"/> are the record's optional <c>dataType</c> and <c>tier</c> fields
/// (null when absent). <see cref="Payload"/> is a compact JSON object of every other field, or null when there
/// are none. On an invalid record, <see cref="EntityId"/> is set when it could be read.
/// </summary>
public readonly record struct BatchFileEntry(long Line, string? EntityId, string? DataType, string? Tier, string? Payload, string? Error);

/// <summary>A problem with the whole file rather than one record, such as a CSV header without an entityId column.</summary>
public sealed class BatchFileException(string message) : Exception(message);

/// <summary>
/// Reads a batch file of work items one record at a time. It checks each record's shape only: duplicates and
/// whether the data type or tier exist are the caller's to check. The fields <c>entityId</c>, <c>dataType</c> and
/// <c>tier</c> are matched ignoring case in both formats, as the HTTP API binds JSON. A JSON null
/// <c>dataType</c>/<c>tier</c> and an empty CSV cell for them both mean absent.
/// </summary>
/// <remarks>
/// Memory is bounded by <see cref="BatchFileLimits.MaxRecordBytes"/> (M), not by the size of the file or of any
/// line or record. Lines are split at the byte level: the pipe holds at most M + 1 bytes of an unfinished line plus
/// one 64 KiB read, and a longer line is counted and dropped as it streams by. JSONL then parses one line (at most M)
/// at a time. CSV gathers one record (at most M; up to 3M when bad UTF-8 bytes become U+FFFD) before handing it to
/// CsvHelper, whose buffer (64 KiB) grows only to hold such a record and is capped by its <c>MaxRecordSize</c> of
/// 3M + 64 KiB; a longer record, such as an unclosed quote running to the end of the file, is counted and dropped.
/// So a reader holds a small multiple (under 10x) of M: with the default 1 MiB, a 1 GiB single line or quoted
/// record is read in a process peaking at about 45 MB.
/// </remarks>
public static class BatchFileReader
{
    private static readonly Dictionary<string, BatchFormat> MediaTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["application/jsonl"] = BatchFormat.Jsonl,
        ["application/x-jsonl"] = BatchFormat.Jsonl,
        ["application/jsonlines"] = BatchFormat.Jsonl,
        ["application/x-jsonlines"] = BatchFormat.Jsonl,
        ["application/ndjson"] = BatchFormat.Jsonl,
        ["application/x-ndjson"] = BatchFormat.Jsonl,
        ["text/csv"] = BatchFormat.Csv,
        ["application/csv"] = BatchFormat.Csv,
    };

    /// <summary>Maps a Content-Type (such as <c>application/x-ndjson; charset=utf-8</c> or <c>text/csv</c>) to a format; null if unsupported.</summary>
    public static BatchFormat? FormatOf(string? contentType) =>
        contentType is not null && MediaTypes.TryGetValue(contentType.Split(';', 2)[0].Trim(), out var format) ? format : null;

    /// <summary>
    /// Reads records one at a time from <paramref name="body"/>, never holding the whole file in memory. Blank lines
    /// are skipped; a UTF-8 byte order mark at the start is ignored. A CSV file's first line is its header.
    /// </summary>
    /// <exception cref="BatchFileException">While enumerating: a CSV file is empty or its header is unusable.</exception>
    public static IAsyncEnumerable<BatchFileEntry> ReadAsync(Stream body, BatchFormat format, BatchFileLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(limits);
        if (limits.MaxRecordBytes < 1 || limits.MaxEntityIdLength < 1)
            throw new ArgumentOutOfRangeException(nameof(limits), limits, "MaxRecordBytes and MaxEntityIdLength must be at least 1.");
        return format switch
        {
            BatchFormat.Jsonl => JsonlRecords.ReadAsync(body, limits, cancellationToken),
            BatchFormat.Csv => new CsvRecords(limits).ReadAsync(body, cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Expected Jsonl or Csv."),
        };
    }
}

/// <summary>The field rules and messages both formats share.</summary>
internal static class BatchRecord
{
    public const string EntityId = "entityId", DataType = "dataType", Tier = "tier";

    // Payloads are stored and handed to executors, never put into HTML, so non-ASCII text stays readable.
    private static readonly JsonWriterOptions PayloadJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The reserved field a name means (matched ignoring case, as the HTTP API binds JSON), or null.</summary>
    public static string? Reserved(string name) =>
        name.Equals(EntityId, StringComparison.OrdinalIgnoreCase) ? EntityId
        : name.Equals(DataType, StringComparison.OrdinalIgnoreCase) ? DataType
        : name.Equals(Tier, StringComparison.OrdinalIgnoreCase) ? Tier
        : null;

    public static string? RejectEntityId(string entityId, BatchFileLimits limits) =>
        string.IsNullOrWhiteSpace(entityId) ? "entityId is empty"
        : entityId.Length > limits.MaxEntityIdLength ? $"entityId is {entityId.Length} characters long, over the limit of {limits.MaxEntityIdLength}"
        : null;

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

/// <summary>
/// One physical line, without its line break (and a CR before it). <see cref="Bytes"/> is valid until the next line
/// is read. A line over the limit has no bytes and <see cref="OversizeBytes"/> set; a line that is not UTF-8 has
/// <see cref="InvalidUtf8At"/> set to the offset of the first bad byte (else -1).
/// </summary>
internal readonly record struct RawLine(long Number, ReadOnlyMemory<byte> Bytes, long OversizeBytes, int InvalidUtf8At)
{
    public string? Problem(int limit) =>
        OversizeBytes > 0 ? BatchRecord.TooLarge($"{OversizeBytes}", limit)
        : InvalidUtf8At >= 0 ? BatchRecord.NotUtf8(Number, InvalidUtf8At, Bytes.Span[InvalidUtf8At])
        : null;
}

/// <summary>Splits a byte stream into lines of at most a given length, skipping longer ones without buffering them.</summary>
internal sealed class Utf8LineReader(Stream body, int maxLineBytes)
{
    private byte[] joined = [];

    public async IAsyncEnumerable<RawLine> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pipe = PipeReader.Create(body, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        try
        {
            long number = 0, skipped = -1, scanned = 0;
            var started = false;
            while (true)
            {
                var result = await pipe.ReadAsync(cancellationToken);
                var buffer = result.Buffer;
                if (!started)
                {
                    if (buffer.Length < 3 && !result.IsCompleted)
                    {
                        pipe.AdvanceTo(buffer.Start, buffer.End);
                        continue;
                    }
                    started = true;
                    if (buffer.Length >= 3 && buffer.Slice(0, 3).ToArray().AsSpan().SequenceEqual("\uFEFF"u8))
                        buffer = buffer.Slice(3);
                }
                while (buffer.Slice(scanned).PositionOf((byte)'\n') is { } newline)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var line = buffer.Slice(0, newline);
                    buffer = buffer.Slice(buffer.GetPosition(1, newline));
                    scanned = 0;
                    number++;
                    yield return skipped >= 0 ? new RawLine(number, default, skipped + line.Length, -1) : Take(number, line);
                    skipped = -1;
                }
                if (result.IsCompleted)
                {
                    if (skipped >= 0 || !buffer.IsEmpty)
                        yield return skipped >= 0 ? new RawLine(number + 1, default, skipped + buffer.Length, -1) : Take(number + 1, buffer);
                    yield break;
                }
                if (skipped < 0 && buffer.Length <= maxLineBytes + 1)
                {
                    // Keep the partial line and wait for more; remember how far it has been searched.
                    scanned = buffer.Length;
                    pipe.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }
                // Over the limit with no line break yet: count the bytes and let them go.
                skipped = Math.Max(skipped, 0) + buffer.Length;
                scanned = 0;
                pipe.AdvanceTo(buffer.End);
            }
        }
        finally
        {
            await pipe.CompleteAsync();
        }
    }

    private RawLine Take(long number, ReadOnlySequence<byte> line)
    {
        if (!line.IsEmpty && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r')
            line = line.Slice(0, line.Length - 1);
        if (line.Length > maxLineBytes)
            return new RawLine(number, default, line.Length, -1);
        ReadOnlyMemory<byte> bytes;
        if (line.IsSingleSegment)
            bytes = line.First;
        else
        {
            if (joined.Length < line.Length)
                joined = new byte[Math.Min(Math.Max(line.Length, joined.Length * 2L), maxLineBytes)];
            line.CopyTo(joined);
            bytes = joined.AsMemory(0, (int)line.Length);
        }
        return new RawLine(number, bytes, 0, Utf8.IsValid(bytes.Span) ? -1 : InvalidOffset(bytes.Span));
    }

    private static int InvalidOffset(ReadOnlySpan<byte> bytes)
    {
        var offset = 0;
        while (Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed) == OperationStatus.Done)
            offset += consumed;
        return offset;
    }
}

/// <summary>JSON Lines: one JSON object per line.</summary>
internal static class JsonlRecords
{
    private static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

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
        catch (JsonException ex)
        {
            return BatchRecord.Invalid(line.Number, null, $"malformed JSON: {ex.Message}");
        }
        using (document)
            return FromObject(line.Number, document.RootElement, limits);
    }

    private static BatchFileEntry FromObject(long number, JsonElement root, BatchFileLimits limits)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return BatchRecord.Invalid(number, null, $"record is not a JSON object but {Describe(root)}");
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
        if (errors.Count > 0)
            return BatchRecord.Invalid(number, entityId, string.Join("; ", errors));
        var payload = others == 0 ? null : BatchRecord.Payload(root, static (writer, record) =>
        {
            foreach (var property in record.EnumerateObject())
                if (BatchRecord.Reserved(property.Name) is null)
                    property.WriteTo(writer);
        });
        return new BatchFileEntry(number, entityId, dataType, tier, payload, null);
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

    // A null dataType or tier means absent, as when a serializer writes the nulls of optional fields.
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

/// <summary>CSV with a header line, parsed by CsvHelper from whole records that <see cref="CsvRecordSource"/> checked.</summary>
internal sealed class CsvRecords(BatchFileLimits limits)
{
    private readonly Dictionary<long, CsvMalformedReason> malformed = [];
    private CsvColumns? columns;

    public async IAsyncEnumerable<BatchFileEntry> ReadAsync(Stream body, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new CsvReaderOptions
        {
            Separator = ',',
            HasHeader = false,
            DetectSeparatorHint = false,
            TrackLineNumbers = true,
            // The source hands over no record over the limit (a line that is not UTF-8 can grow threefold when its
            // bad bytes become U+FFFD); this only backs that up.
            MaxRecordSize = (int)Math.Min(int.MaxValue, 3L * limits.MaxRecordBytes + 64 * 1024),
            OnMalformedRecord = record => malformed[record.LineNumber] = record.Reason,
        };
        await using var lines = new Utf8LineReader(body, limits.MaxRecordBytes).ReadAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using var source = new CsvRecordSource(lines, limits.MaxRecordBytes);
        await using var csv = CsvReader.Create(source, options, leaveOpen: true);
        while (await NextAsync(csv, cancellationToken))
        {
            var start = csv.LineNumber;
            while (source.TryTakeProblem(start - 1, out var earlier))
                yield return columns is null ? throw HeaderException(earlier.Line, earlier.Error) : earlier;
            if (ToEntry(csv, start, source) is { } entry)
                yield return entry;
        }
        while (source.TryTakeProblem(long.MaxValue, out var last))
            yield return columns is null ? throw HeaderException(last.Line, last.Error) : last;
        if (columns is null)
            throw new BatchFileException("The CSV file is empty; it must start with a header line naming its columns, one of them entityId.");
    }

    private static async ValueTask<bool> NextAsync(CsvReader csv, CancellationToken cancellationToken)
    {
        try
        {
            return await csv.ReadAsync(cancellationToken);
        }
        // MalformedData and FieldCountMismatch keep their recovering defaults, so CsvHelper throws only when a record
        // outgrows MaxRecordSize; it cannot go on after that.
        catch (CsvFormatException ex)
        {
            throw new BatchFileException($"The CSV file cannot be read past line {ex.LineNumber}: {ex.Message}");
        }
    }

    private static BatchFileException HeaderException(long line, string? problem) =>
        new($"The CSV header (line {line}) is not usable: {problem}.");

    /// <summary>The entry for the record CsvHelper is on, or null for the header and whitespace-only lines.</summary>
    private BatchFileEntry? ToEntry(CsvReader csv, long start, CsvRecordSource source)
    {
        var raw = csv.RawRecord;
        if (BatchRecord.IsBlank(raw))
            return null;
        var problem = source.TakeProblems(start + raw.Count((byte)'\n'));
        if (malformed.Remove(start, out var reason))
            problem ??= Describe(reason);
        if (columns is null)
        {
            columns = problem is null ? CsvColumns.FromHeader(csv, start) : throw HeaderException(start, problem);
            return null;
        }
        var errors = new List<string>();
        if (problem is not null)
            errors.Add(problem);
        if (csv.FieldCount != columns.Names.Length)
            errors.Add($"expected {columns.Names.Length} fields, found {csv.FieldCount}");
        var entityId = columns.EntityId < csv.FieldCount ? csv.GetString(columns.EntityId) : null;
        if (entityId is not null && BatchRecord.RejectEntityId(entityId, limits) is { } idError)
            errors.Add(idError);
        if (errors.Count > 0)
            return BatchRecord.Invalid(start, entityId, string.Join("; ", errors));
        return new BatchFileEntry(start, entityId, Optional(csv, columns.DataType), Optional(csv, columns.Tier), Payload(csv, columns), null);
    }

    // CSV cannot leave a cell out, so an empty dataType or tier means absent.
    private static string? Optional(CsvReader csv, int column) =>
        column >= 0 && csv.GetString(column) is { Length: > 0 } value ? value : null;

    private static string? Payload(CsvReader csv, CsvColumns columns) =>
        columns.PayloadColumns == 0 ? null : BatchRecord.Payload((csv, columns), static (writer, state) =>
        {
            var (record, header) = state;
            for (var i = 0; i < header.Names.Length; i++)
                if (i != header.EntityId && i != header.DataType && i != header.Tier)
                    writer.WriteString(header.Names[i], record.GetString(i));
        });

    private static string Describe(CsvMalformedReason reason) => reason switch
    {
        CsvMalformedReason.StrayQuote => "bad CSV quoting: a quote inside an unquoted field",
        CsvMalformedReason.TextAfterClosingQuote => "bad CSV quoting: text after the closing quote of a field",
        CsvMalformedReason.UnterminatedQuote => "bad CSV quoting: a quoted field is never closed",
        _ => $"bad CSV quoting ({reason})",
    };
}

/// <summary>The header of a CSV batch file: column names and where the reserved fields are (-1 when absent).</summary>
internal sealed record CsvColumns(string[] Names, int EntityId, int DataType, int Tier)
{
    public int PayloadColumns => Names.Length - 1 - (DataType >= 0 ? 1 : 0) - (Tier >= 0 ? 1 : 0);

    public static CsvColumns FromHeader(CsvReader csv, long line)
    {
        var names = new string[csv.FieldCount];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        int entityId = -1, dataType = -1, tier = -1;
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = csv.GetString(i).Trim();
            if (names[i].Length == 0)
                throw new BatchFileException($"Column {i + 1} of the CSV header (line {line}) has no name; every column needs one.");
            if (!seen.Add(names[i]))
                throw new BatchFileException($"The CSV header (line {line}) names column '{names[i]}' twice (names are matched ignoring case).");
            switch (BatchRecord.Reserved(names[i]))
            {
                case BatchRecord.EntityId: entityId = i; break;
                case BatchRecord.DataType: dataType = i; break;
                case BatchRecord.Tier: tier = i; break;
            }
        }
        if (entityId < 0)
            throw new BatchFileException($"The CSV header (line {line}) has no entityId column; it has: {string.Join(", ", names)}. The first line must name the columns, one of them entityId.");
        return new CsvColumns(names, entityId, dataType, tier);
    }
}

/// <summary>
/// The lines of a CSV file as the stream CsvHelper reads, handed over one whole record at a time so that no record
/// over the limit reaches it. Records end as CsvHelper ends them: at a line break outside a quoted field, where a
/// quote opens a quoted field only at the start of a field. A record over the limit is dropped and stands as blank
/// lines, so CsvHelper's line numbers stay the file's; a line that is not UTF-8 is passed on with U+FFFD for its bad
/// bytes, so its quotes still count. Both are reported through <see cref="TryTakeProblem"/> and <see cref="TakeProblems"/>.
/// </summary>
internal sealed class CsvRecordSource(IAsyncEnumerator<RawLine> lines, int maxRecordBytes) : Stream
{
    private enum Quoting { FieldStart, Unquoted, Quoted, QuoteInQuoted }

    private readonly ArrayBufferWriter<byte> record = new();
    private readonly List<(long Line, string Error)> recordProblems = [];
    private readonly Queue<(long Line, string Error)> problems = new();
    private ReadOnlyMemory<byte> ready;
    private long blankLines;
    private bool atEnd;

    /// <summary>Takes the first problem on a line up to <paramref name="lastLine"/>: a dropped record, or a line that is not UTF-8.</summary>
    public bool TryTakeProblem(long lastLine, out BatchFileEntry entry)
    {
        var found = problems.TryPeek(out var problem) && problem.Line <= lastLine;
        entry = found ? BatchRecord.Invalid(problems.Dequeue().Line, null, problem.Error) : default;
        return found;
    }

    /// <summary>The reason of the first problem up to <paramref name="lastLine"/>, dropping the others; null if none.</summary>
    public string? TakeProblems(long lastLine)
    {
        string? first = null;
        while (problems.TryPeek(out var problem) && problem.Line <= lastLine)
            first ??= problems.Dequeue().Error;
        return first;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var written = 0;
        while (written < buffer.Length)
        {
            if (!ready.IsEmpty)
            {
                var count = Math.Min(ready.Length, buffer.Length - written);
                ready[..count].CopyTo(buffer[written..]);
                ready = ready[count..];
                written += count;
            }
            else if (blankLines > 0)
            {
                var count = (int)Math.Min(blankLines, buffer.Length - written);
                buffer.Span.Slice(written, count).Fill((byte)'\n');
                blankLines -= count;
                written += count;
            }
            else if (atEnd)
                break;
            else
                await GatherRecordAsync();
        }
        return written;
    }

    private async ValueTask GatherRecordAsync()
    {
        record.Clear();
        recordProblems.Clear();
        long start = 0, lineCount = 0, size = 0;
        var quoting = Quoting.FieldStart;
        var tooLarge = false;
        while (true)
        {
            if (!await lines.MoveNextAsync())
            {
                atEnd = true;
                break;
            }
            var line = lines.Current;
            size += lineCount++ == 0 ? 0 : 1;
            start = lineCount == 1 ? line.Number : start;
            size += line.Bytes.Length + line.OversizeBytes;
            if (line.OversizeBytes > 0)
            {
                // Its quotes were never looked at; take it as the end of the record it is in.
                tooLarge = true;
                quoting = Quoting.FieldStart;
                break;
            }
            var bytes = line.Bytes;
            if (line.InvalidUtf8At >= 0)
            {
                recordProblems.Add((line.Number, line.Problem(maxRecordBytes)!));
                bytes = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(bytes.Span));
            }
            quoting = Scan(bytes.Span, quoting);
            tooLarge |= size > maxRecordBytes;
            if (!tooLarge)
            {
                record.Write(bytes.Span);
                record.Write("\n"u8);
            }
            if (quoting != Quoting.Quoted)
                break;
        }
        if (lineCount == 0)
            return;
        if (!tooLarge)
        {
            foreach (var problem in recordProblems)
                problems.Enqueue(problem);
            ready = record.WrittenMemory;
            return;
        }
        var error = BatchRecord.TooLarge($"{size}", maxRecordBytes);
        problems.Enqueue((start, quoting == Quoting.Quoted ? $"{error}; a quoted field in it is never closed" : error));
        blankLines = lineCount;
    }

    private static Quoting Scan(ReadOnlySpan<byte> line, Quoting quoting)
    {
        foreach (var b in line)
        {
            quoting = (quoting, b) switch
            {
                (Quoting.FieldStart, (byte)'"') => Quoting.Quoted,
                (Quoting.Quoted, (byte)'"') => Quoting.QuoteInQuoted,
                (Quoting.Quoted, _) => Quoting.Quoted,
                (Quoting.QuoteInQuoted, (byte)'"') => Quoting.Quoted,
                (_, (byte)',') => Quoting.FieldStart,
                _ => Quoting.Unquoted,
            };
        }
        // A line break ends a field that is not quoted, and a record that is not in one.
        return quoting == Quoting.Quoted ? Quoting.Quoted : Quoting.FieldStart;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("The CSV lines are read asynchronously.");

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
