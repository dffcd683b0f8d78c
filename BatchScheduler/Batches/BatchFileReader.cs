namespace BatchScheduler.Batches;

/// <summary>The formats an upstream system may submit a batch file in.</summary>
public enum BatchFormat { Jsonl, Csv }

/// <summary>Limits on one record.</summary>
/// <param name="MaxRecordBytes">The largest record, in bytes of UTF-8 without its final line break (a CSV record with
/// quoted line breaks counts them); a longer one is reported as invalid and skipped, never read into memory.</param>
/// <param name="MaxEntityIdLength">The longest entity id, in characters.</param>
internal sealed record BatchFileLimits(int MaxRecordBytes = 1_048_576, int MaxEntityIdLength = 200);

/// <summary>
/// One record of the file: either valid (<see cref="Error"/> null, <see cref="EntityId"/> non-null) or invalid
/// (<see cref="Error"/> says why). <see cref="Line"/> is the 1-based physical line where the record starts.
/// <see cref="DataType"/>, <see cref="Tier"/> and <see cref="RunAt"/> are the record's optional <c>dataType</c>, <c>tier</c>
/// and <c>runAt</c> fields (null when absent; <c>runAt</c> as written, read by the caller). <see cref="Payload"/> is a compact
/// JSON object of every other field, or null when there are none. On an invalid record, <see cref="EntityId"/> is set when it
/// could be read.
/// </summary>
internal readonly record struct BatchFileEntry(long Line, string? EntityId, string? DataType, string? Tier, string? Payload, string? Error, string? RunAt = null);

/// <summary>A problem with the whole file rather than one record, such as a CSV header without an entityId column.</summary>
internal sealed class BatchFileException(string message) : Exception(message);

/// <summary>
/// Reads a batch file of work items one record at a time. It checks each record's shape only: duplicates and
/// whether the data type or tier exist are the caller's to check. The fields <c>entityId</c>, <c>dataType</c>, <c>tier</c> and
/// <c>runAt</c> are matched ignoring case in both formats, as the HTTP API binds JSON. A JSON null
/// <c>dataType</c>/<c>tier</c>/<c>runAt</c> and an empty CSV cell for them all mean absent.
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
internal static class BatchFileReader
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
