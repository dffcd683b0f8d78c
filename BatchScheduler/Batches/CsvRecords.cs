using System.Runtime.CompilerServices;
using CsvHelper;

namespace BatchScheduler.Batches;

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
        return new BatchFileEntry(start, entityId, Optional(csv, columns.DataType), Optional(csv, columns.Tier), Payload(csv, columns), null,
            Optional(csv, columns.RunAt));
    }

    // CSV cannot leave a cell out, so an empty dataType, tier or runAt means absent.
    private static string? Optional(CsvReader csv, int column) =>
        column >= 0 && csv.GetString(column) is { Length: > 0 } value ? value : null;

    private static string? Payload(CsvReader csv, CsvColumns columns) =>
        columns.PayloadColumns == 0 ? null : BatchRecord.Payload((csv, columns), static (writer, state) =>
        {
            var (record, header) = state;
            for (var i = 0; i < header.Names.Length; i++)
                if (!header.IsReserved(i))
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
