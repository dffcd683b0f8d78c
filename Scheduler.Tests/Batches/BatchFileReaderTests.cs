using System.Text;
using BatchScheduler.Batches;

namespace BatchScheduler.Tests.Batches;

public sealed class BatchFileReaderTests
{
    private static readonly BatchFileLimits Defaults = new();

    private static Task<List<BatchFileEntry>> ReadAsync(string text, BatchFormat format, BatchFileLimits? limits = null) =>
        ReadAsync(Encoding.UTF8.GetBytes(text), format, limits);

    private static Task<List<BatchFileEntry>> ReadAsync(byte[] bytes, BatchFormat format, BatchFileLimits? limits = null) =>
        ReadAsync(new MemoryStream(bytes), format, limits);

    private static async Task<List<BatchFileEntry>> ReadAsync(Stream body, BatchFormat format, BatchFileLimits? limits = null)
    {
        var entries = new List<BatchFileEntry>();
        await foreach (var entry in BatchFileReader.ReadAsync(body, format, limits ?? Defaults, CancellationToken.None))
            entries.Add(entry);
        return entries;
    }

    private static byte[] Bytes(params object[] parts) =>
        parts.SelectMany(part => part as byte[] ?? Encoding.UTF8.GetBytes((string)part)).ToArray();

    private static BatchFileEntry Valid(long line, string entityId, string? dataType = null, string? tier = null, string? payload = null) =>
        new(line, entityId, dataType, tier, payload, null);

    private static void AssertInvalid(BatchFileEntry entry, long line, string? entityId, params string[] reasonWords)
    {
        Assert.Equal(line, entry.Line);
        Assert.Equal(entityId, entry.EntityId);
        Assert.NotNull(entry.Error);
        foreach (var word in reasonWords)
            Assert.Contains(word, entry.Error);
    }

    [Fact]
    public async Task ReadAsync_JsonlRecords_PayloadHoldsTheOtherFieldsInOrder()
    {
        var entries = await ReadAsync(
            """
            {"entityId":"a-1","dataType":"orders","tier":"gold","amount":12.5,"tags":["x","y"],"note":"café"}
            {"z":1,"entityId":"b-2","nested":{"k":null}}
            {"entityId":"c-3","tier":"silver"}
            """, BatchFormat.Jsonl);

        Assert.Equal(
        [
            Valid(1, "a-1", "orders", "gold", """{"amount":12.5,"tags":["x","y"],"note":"café"}"""),
            Valid(2, "b-2", payload: """{"z":1,"nested":{"k":null}}"""),
            Valid(3, "c-3", tier: "silver"),
        ], entries);
    }

    [Theory]
    [InlineData("""{"name":"x"}""", "entityId is missing")]
    [InlineData("""{"entityId":null}""", "entityId must be a string or an integer, not null")]
    [InlineData("""{"entityId":""}""", "entityId is empty")]
    [InlineData("""{"entityId":"   "}""", "entityId is empty")]
    [InlineData("""{"entityId":true}""", "entityId must be a string or an integer, not a boolean")]
    [InlineData("""{"entityId":{"id":1}}""", "entityId must be a string or an integer, not an object")]
    [InlineData("""{"entityId":1.5}""", "entityId must be a string or an integer, not the number 1.5")]
    [InlineData("""{"entityId":"a","EntityID":"b"}""", "entityId appears more than once")]
    public async Task ReadAsync_JsonlEntityIdMissingEmptyOrWrongType_IsInvalidNamingTheField(string line, string reason)
    {
        var entries = await ReadAsync(line + "\n" + """{"entityId":"next"}""", BatchFormat.Jsonl);

        Assert.Equal(2, entries.Count);
        AssertInvalid(entries[0], 1, line.Contains("\"a\"") ? "a" : null, reason);
        Assert.Equal(Valid(2, "next"), entries[1]);
    }

    [Fact]
    public async Task ReadAsync_JsonlEntityIdTooLong_IsInvalidStatingTheLimit()
    {
        var entries = await ReadAsync($$"""{"entityId":"{{new string('x', 11)}}"}""", BatchFormat.Jsonl, new BatchFileLimits(MaxEntityIdLength: 10));

        AssertInvalid(Assert.Single(entries), 1, new string('x', 11), "entityId is 11 characters long", "limit of 10");
    }

    [Fact]
    public async Task ReadAsync_JsonlIntegerEntityId_UsesItsText()
    {
        var entries = await ReadAsync(
            """
            {"entityId":42,"dataType":"orders"}
            {"entityId":123456789012345678901234567890}
            {"entityId":-7}
            """, BatchFormat.Jsonl);

        Assert.Equal([Valid(1, "42", "orders"), Valid(2, "123456789012345678901234567890"), Valid(3, "-7")], entries);
    }

    [Fact]
    public async Task ReadAsync_JsonlTierOrDataTypeNotAString_IsInvalidNamingTheField()
    {
        var entries = await ReadAsync(
            """
            {"entityId":"a","tier":5}
            {"entityId":"b","dataType":["orders"]}
            {"entityId":"c","tier":null,"dataType":null}
            """, BatchFormat.Jsonl);

        AssertInvalid(entries[0], 1, "a", "tier must be a string", "the number 5");
        AssertInvalid(entries[1], 2, "b", "dataType must be a string", "an array");
        Assert.Equal(Valid(3, "c"), entries[2]);
    }

    [Fact]
    public async Task ReadAsync_JsonlMalformedLine_IsReportedWithItsNumberAndLaterLinesAreRead()
    {
        var entries = await ReadAsync(
            """
            {"entityId":"a"}
            {"entityId":"b",
            {"entityId":"c"}
            """, BatchFormat.Jsonl);

        Assert.Equal(3, entries.Count);
        Assert.Equal(Valid(1, "a"), entries[0]);
        AssertInvalid(entries[1], 2, null, "malformed JSON: the record ends before the JSON is complete", "(position 17)");
        Assert.DoesNotContain("Expected", entries[1].Error);
        Assert.Equal(Valid(3, "c"), entries[2]);
    }

    [Theory]
    [InlineData("[1,2]", "an array")]
    [InlineData("42", "the number 42")]
    [InlineData("\"a-1\"", "a string")]
    public async Task ReadAsync_JsonlLineNotAnObject_IsInvalid(string line, string found)
    {
        var entries = await ReadAsync(line, BatchFormat.Jsonl);

        AssertInvalid(Assert.Single(entries), 1, null, "record is not a JSON object", found);
    }

    [Fact]
    public async Task ReadAsync_JsonlLoneSurrogateEscapes_EachRecordIsInvalidOnItsLine_OthersRead()
    {
        var entries = await ReadAsync(
            """
            {"entityId":"a"}
            {"entityId":"\udfff"}
            {"entityId":"c","note":"\ud800x"}
            {"entityId":"d","deep":{"list":["ok","\udc00"]}}
            {"entityId":"e","\ud83d":1}
            {"entityId":"f","pair":"\ud83d\ude00"}
            """, BatchFormat.Jsonl);

        Assert.Equal(6, entries.Count);
        Assert.Equal(Valid(1, "a"), entries[0]);
        AssertInvalid(entries[1], 2, null, "entityId", "unpaired surrogate", "valid Unicode");
        AssertInvalid(entries[2], 3, null, "payload.note", "unpaired surrogate", "valid Unicode");
        AssertInvalid(entries[3], 4, null, "payload.deep", "unpaired surrogate", "valid Unicode");
        AssertInvalid(entries[4], 5, null, "unpaired surrogate", "valid Unicode");
        Assert.Null(entries[5].Error); // a surrogate pair is a character like any other
        Assert.Equal("f", entries[5].EntityId);
    }

    [Fact]
    public async Task ReadAsync_JsonlInvalidUtf8_IsInvalidAndReadingContinues()
    {
        var body = Bytes("""{"entityId":"a"}""" + "\n", """{"entityId":"b""", new byte[] { 0xFF, 0xFE }, "\"}\n", """{"entityId":"c"}""");

        var entries = await ReadAsync(body, BatchFormat.Jsonl);

        Assert.Equal(3, entries.Count);
        Assert.Equal(Valid(1, "a"), entries[0]);
        AssertInvalid(entries[1], 2, null, "UTF-8", "0xFF", "column 15");
        Assert.Equal(Valid(3, "c"), entries[2]);
    }

    [Fact]
    public async Task ReadAsync_JsonlLineOverTheLimit_IsReportedAndTheNextLineRead()
    {
        var longLine = $$"""{"entityId":"big","pad":"{{new string('x', 200)}}"}""";
        var entries = await ReadAsync($$"""{"entityId":"a"}""" + "\n" + longLine + "\n" + """{"entityId":"c"}""", BatchFormat.Jsonl,
            new BatchFileLimits(MaxRecordBytes: 64));

        Assert.Equal(3, entries.Count);
        Assert.Equal(Valid(1, "a"), entries[0]);
        AssertInvalid(entries[1], 2, null, $"record is {Encoding.UTF8.GetByteCount(longLine)} bytes", "limit of 64 bytes");
        Assert.Equal(Valid(3, "c"), entries[2]);
    }

    [Fact]
    public async Task ReadAsync_JsonlHugeLineFromUnseekableStream_IsSkippedWithoutBufferingIt()
    {
        const long padding = 50L * 1024 * 1024;
        using var body = new GeneratedStream(
            Encoding.UTF8.GetBytes("""{"entityId":"huge","pad":" """), "x"u8.ToArray(), padding,
            Encoding.UTF8.GetBytes("\"}\n" + """{"entityId":"after"}""" + "\n"));

        var entries = await ReadAsync(body, BatchFormat.Jsonl, new BatchFileLimits(MaxRecordBytes: 1024 * 1024));

        Assert.False(body.CanSeek);
        Assert.Equal(2, entries.Count);
        AssertInvalid(entries[0], 1, null, "over the limit of 1048576 bytes");
        Assert.Equal(Valid(2, "after"), entries[1]);
        Assert.True(body.LargestRead <= 1024 * 1024, $"the reader asked for {body.LargestRead} bytes at once");
    }

    [Fact]
    public async Task ReadAsync_JsonlBlankLinesAndCrlf_AreSkippedButCounted()
    {
        var entries = await ReadAsync("\r\n" + """{"entityId":"a"}""" + "\r\n   \r\n\t\n" + """{"entityId":"b","x":"y"}""" + "\r\n\r\n", BatchFormat.Jsonl);

        Assert.Equal([Valid(2, "a"), Valid(5, "b", payload: """{"x":"y"}""")], entries);
    }

    [Fact]
    public async Task ReadAsync_JsonlByteOrderMark_IsIgnored()
    {
        var entries = await ReadAsync(Bytes(new byte[] { 0xEF, 0xBB, 0xBF }, """{"entityId":"a"}"""), BatchFormat.Jsonl);

        Assert.Equal([Valid(1, "a")], entries);
    }

    [Fact]
    public async Task ReadAsync_CsvRows_MatchReservedColumnsIgnoringCaseAndPayloadTheRestInHeaderOrder()
    {
        var entries = await ReadAsync(
            """
            name,EntityID,TIER,amount,DataType
            Alice,a-1,gold,12,orders
            Bob,b-2,,,
            """, BatchFormat.Csv);

        Assert.Equal(
        [
            Valid(2, "a-1", "orders", "gold", """{"name":"Alice","amount":"12"}"""),
            Valid(3, "b-2", payload: """{"name":"Bob","amount":""}"""),
        ], entries);
    }

    [Fact]
    public async Task ReadAsync_CsvOnlyEntityIdColumn_HasNoPayload()
    {
        var entries = await ReadAsync("entityId\r\na\r\n\r\nb\r\n", BatchFormat.Csv);

        Assert.Equal([Valid(2, "a"), Valid(4, "b")], entries);
    }

    [Theory]
    [InlineData("id,name\n1,a\n", "no entityId column", "id, name")]
    [InlineData("", "empty")]
    [InlineData("\n  \n", "empty")]
    [InlineData("entityId,name,NAME\n1,a,b\n", "'NAME' twice")]
    [InlineData("entityId,,x\n", "Column 2", "no name")]
    public async Task ReadAsync_CsvHeaderUnusable_ThrowsBatchFileException(string text, params string[] words)
    {
        var ex = await Assert.ThrowsAsync<BatchFileException>(() => ReadAsync(text, BatchFormat.Csv));

        foreach (var word in words)
            Assert.Contains(word, ex.Message);
    }

    [Fact]
    public async Task ReadAsync_CsvWrongFieldCount_IsInvalidAndLaterRowsRead()
    {
        var entries = await ReadAsync("entityId,a,b\n1,x\n2,x,y,z\n3,x,y\n", BatchFormat.Csv);

        Assert.Equal(3, entries.Count);
        AssertInvalid(entries[0], 2, "1", "expected 3 fields, found 2");
        AssertInvalid(entries[1], 3, "2", "expected 3 fields, found 4");
        Assert.Equal(Valid(4, "3", payload: """{"a":"x","b":"y"}"""), entries[2]);
    }

    [Fact]
    public async Task ReadAsync_CsvEmptyEntityId_IsInvalid()
    {
        var entries = await ReadAsync("entityId,a\n ,x\n\"\",y\n", BatchFormat.Csv);

        AssertInvalid(entries[0], 2, null, "entityId is empty");
        AssertInvalid(entries[1], 3, null, "entityId is empty");
    }

    [Fact]
    public async Task ReadAsync_CsvBadQuoting_IsInvalidAndReadingContinues()
    {
        var entries = await ReadAsync("entityId,note\n1,ab\"c\n2,\"ab\"cd\n3,fine\n", BatchFormat.Csv);

        Assert.Equal(3, entries.Count);
        AssertInvalid(entries[0], 2, "1", "bad CSV quoting", "quote inside an unquoted field");
        AssertInvalid(entries[1], 3, "2", "bad CSV quoting", "after the closing quote");
        Assert.Equal(Valid(4, "3", payload: """{"note":"fine"}"""), entries[2]);
    }

    [Fact]
    public async Task ReadAsync_CsvQuotedFieldOverSeveralLines_KeepsPhysicalLineNumbers()
    {
        var entries = await ReadAsync("entityId,note\r\n1,\"first\r\n\r\nthird, with \"\"quotes\"\"\"\r\n2,next\r\n\r\n3,\"x\ny\"\n", BatchFormat.Csv);

        Assert.Equal(
        [
            Valid(2, "1", payload: """{"note":"first\n\nthird, with \"quotes\""}"""),
            Valid(5, "2", payload: """{"note":"next"}"""),
            Valid(7, "3", payload: """{"note":"x\ny"}"""),
        ], entries);
    }

    [Fact]
    public async Task ReadAsync_CsvInvalidUtf8_IsInvalidAndReadingContinues()
    {
        var body = Bytes("entityId,note\n1,ok\n2,caf", new byte[] { 0xE9 }, "\n3,\"multi\nli", new byte[] { 0xC3, 0x28 }, "ne\"\n4,end\n");

        var entries = await ReadAsync(body, BatchFormat.Csv);

        Assert.Equal(4, entries.Count);
        Assert.Equal(Valid(2, "1", payload: """{"note":"ok"}"""), entries[0]);
        AssertInvalid(entries[1], 3, "2", "line 3 is not valid UTF-8", "0xE9");
        AssertInvalid(entries[2], 4, "3", "line 5 is not valid UTF-8", "0xC3");
        Assert.Equal(Valid(6, "4", payload: """{"note":"end"}"""), entries[3]);
    }

    [Fact]
    public async Task ReadAsync_CsvInvalidUtf8InHeader_ThrowsBatchFileException()
    {
        var ex = await Assert.ThrowsAsync<BatchFileException>(() => ReadAsync(Bytes("entityId,n", new byte[] { 0xFF }, "\n1,x\n"), BatchFormat.Csv));

        Assert.Contains("UTF-8", ex.Message);
    }

    [Fact]
    public async Task ReadAsync_CsvRecordOverTheLimit_IsReportedAndTheNextRowRead()
    {
        var longLine = "2," + new string('x', 300);
        var longQuoted = "3,\"" + string.Join("\n", Enumerable.Repeat(new string('y', 40), 10)) + "\"";
        var entries = await ReadAsync($"entityId,note\n1,a\n{longLine}\n{longQuoted}\n4,b\n", BatchFormat.Csv, new BatchFileLimits(MaxRecordBytes: 100));

        Assert.Equal(4, entries.Count);
        Assert.Equal(Valid(2, "1", payload: """{"note":"a"}"""), entries[0]);
        AssertInvalid(entries[1], 3, null, $"record is {longLine.Length} bytes", "limit of 100 bytes");
        AssertInvalid(entries[2], 4, null, $"record is {longQuoted.Length} bytes", "limit of 100 bytes");
        Assert.Equal(Valid(14, "4", payload: """{"note":"b"}"""), entries[3]);
    }

    [Fact]
    public async Task ReadAsync_CsvUnclosedQuote_IsOneRecordOverTheLimitNotTheWholeFileInMemory()
    {
        // As any RFC 4180 reader sees it, the quote opened on line 3 swallows the rest of the file.
        var swallowed = string.Concat(Enumerable.Range(0, 20_000).Select(i => $"{i},filler\n"));
        var entries = await ReadAsync($"entityId,note\n1,a\n2,\"open\n{swallowed}", BatchFormat.Csv, new BatchFileLimits(MaxRecordBytes: 10_000));

        Assert.Equal(2, entries.Count);
        Assert.Equal(Valid(2, "1", payload: """{"note":"a"}"""), entries[0]);
        AssertInvalid(entries[1], 3, null, "over the limit of 10000 bytes", "never closed");
    }

    [Fact]
    public async Task ReadAsync_CsvHeaderOverTheLimit_ThrowsBatchFileException()
    {
        var ex = await Assert.ThrowsAsync<BatchFileException>(() => ReadAsync("entityId," + new string('x', 200) + "\n1,a\n", BatchFormat.Csv, new BatchFileLimits(MaxRecordBytes: 100)));

        Assert.Contains("header (line 1)", ex.Message);
        Assert.Contains("limit of 100 bytes", ex.Message);
    }

    [Fact]
    public async Task ReadAsync_CsvHugeQuotedRecordOverManyLines_IsSkippedWithoutBufferingIt()
    {
        // 50 MB of 100-byte lines inside one quoted field.
        using var body = new GeneratedStream(
            Encoding.UTF8.GetBytes("entityId,note\n1,a\n2,\""), Encoding.UTF8.GetBytes(new string('y', 99) + "\n"), 500_000,
            Encoding.UTF8.GetBytes("end\"\n3,b\n"));

        var entries = await ReadAsync(body, BatchFormat.Csv, new BatchFileLimits(MaxRecordBytes: 1024 * 1024));

        Assert.Equal(3, entries.Count);
        Assert.Equal(Valid(2, "1", payload: """{"note":"a"}"""), entries[0]);
        AssertInvalid(entries[1], 3, null, $"record is {"2,\"".Length + 100L * 500_000 + "end\"".Length} bytes", "over the limit of 1048576 bytes");
        Assert.Equal(Valid(500_004, "3", payload: """{"note":"b"}"""), entries[2]);
    }

    [Theory]
    [InlineData(BatchFormat.Jsonl, 1)]
    [InlineData(BatchFormat.Jsonl, 7)]
    [InlineData(BatchFormat.Csv, 1)]
    [InlineData(BatchFormat.Csv, 7)]
    public async Task ReadAsync_FewBytesPerRead_GivesTheSameRecordsAsOneRead(BatchFormat format, int bytesPerRead)
    {
        var text = new StringBuilder(format == BatchFormat.Csv ? "entityId,note\r\n" : "");
        for (var i = 0; i < 3000; i++)
            text.Append(format == BatchFormat.Csv
                ? $"id-{i},\"note {i}\r\nsecond line é\"\r\n"
                : $$"""{"entityId":"id-{{i}}","note":"{{new string('n', i % 90)}} é"}""" + "\r\n");
        var body = Bytes(new byte[] { 0xEF, 0xBB, 0xBF }, text.ToString());

        var whole = await ReadAsync(body, format);
        var trickled = await ReadAsync(new TrickleStream(body, bytesPerRead), format);

        Assert.Equal(3000, whole.Count);
        Assert.All(whole, entry => Assert.Null(entry.Error));
        Assert.Equal("id-2999", whole[^1].EntityId);
        Assert.Equal(format == BatchFormat.Csv ? 6000 : 3000, whole[^1].Line);
        Assert.Equal(whole, trickled);
    }

    [Fact]
    public async Task ReadAsync_CancelledToken_Stops()
    {
        using var cancellation = new CancellationTokenSource();
        var body = new MemoryStream(Encoding.UTF8.GetBytes("""{"entityId":"a"}""" + "\n" + """{"entityId":"b"}"""));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in BatchFileReader.ReadAsync(body, BatchFormat.Jsonl, Defaults, cancellation.Token))
                await cancellation.CancelAsync();
        });
    }

    [Theory]
    [InlineData("application/x-ndjson; charset=utf-8", BatchFormat.Jsonl)]
    [InlineData("application/jsonl", BatchFormat.Jsonl)]
    [InlineData("Application/JSONL", BatchFormat.Jsonl)]
    [InlineData("application/jsonlines", BatchFormat.Jsonl)]
    [InlineData("text/csv", BatchFormat.Csv)]
    [InlineData("text/csv;charset=utf-8", BatchFormat.Csv)]
    [InlineData("application/json", null)]
    [InlineData("text/plain", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void FormatOf_ContentType_MapsToFormat(string? contentType, BatchFormat? expected) =>
        Assert.Equal(expected, BatchFileReader.FormatOf(contentType));

    /// <summary>A non-seekable stream that makes its bytes as they are read: a prefix, a pattern repeated, a suffix.</summary>
    private sealed class GeneratedStream(byte[] prefix, byte[] pattern, long repeat, byte[] suffix) : UnseekableStream
    {
        private readonly long fillEnd = prefix.Length + pattern.Length * repeat;
        private long position;

        public int LargestRead { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            LargestRead = Math.Max(LargestRead, buffer.Length);
            var written = 0;
            while (written < buffer.Length && Source() is { IsEmpty: false } source)
            {
                var count = Math.Min(source.Length, buffer.Length - written);
                source[..count].CopyTo(buffer[written..]);
                position += count;
                written += count;
            }
            return written;
        }

        private ReadOnlySpan<byte> Source() =>
            position < prefix.Length ? prefix.AsSpan((int)position)
            : position < fillEnd ? pattern.AsSpan((int)((position - prefix.Length) % pattern.Length))
            : position - fillEnd < suffix.Length ? suffix.AsSpan((int)(position - fillEnd))
            : [];
    }

    /// <summary>Hands out its bytes a few at a time, as a slow network would.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : UnseekableStream
    {
        private int position;

        public override int Read(Span<byte> buffer)
        {
            var count = Math.Min(Math.Min(chunk, buffer.Length), data.Length - position);
            data.AsSpan(position, count).CopyTo(buffer);
            position += count;
            return count;
        }
    }

    private abstract class UnseekableStream : ReadOnlyStream
    {
        public abstract override int Read(Span<byte> buffer);

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));
    }
}
