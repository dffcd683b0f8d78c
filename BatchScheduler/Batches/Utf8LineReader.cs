using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Unicode;

namespace BatchScheduler.Batches;

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
