using System.Buffers;
using System.Text;

namespace BatchScheduler.Batches;

/// <summary>
/// The lines of a CSV file as the stream CsvHelper reads, handed over one whole record at a time so that no record
/// over the limit reaches it. Records end as CsvHelper ends them: at a line break outside a quoted field, where a
/// quote opens a quoted field only at the start of a field. A record over the limit is dropped and stands as blank
/// lines, so CsvHelper's line numbers stay the file's; a line that is not UTF-8 is passed on with U+FFFD for its bad
/// bytes, so its quotes still count. Both are reported through <see cref="TryTakeProblem"/> and <see cref="TakeProblems"/>.
/// </summary>
internal sealed class CsvRecordSource(IAsyncEnumerator<RawLine> lines, int maxRecordBytes) : ReadOnlyStream
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
}
