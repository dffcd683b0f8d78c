using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using Serilog.Events;

namespace BatchScheduler.Tests.Api;

/// <summary>An API-only node whose log lines are kept, so a test can see what a refused body logged.</summary>
public sealed class JsonBodyFixture : SharedNodeFixture
{
    public ConcurrentQueue<LogEvent> Log { get; } = new();

    protected override Dictionary<string, string?> Settings() => new()
    {
        ["Cluster:Role"] = "api",
        ["DataTypes:plain:Executor"] = "noop",
    };

    protected override Action<IServiceCollection>? Services => s => s.AddSingleton<ILogEventSink>(new Sink(Log));

    private sealed class Sink(ConcurrentQueue<LogEvent> events) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => events.Enqueue(logEvent);
    }
}

/// <summary>
/// How JSON bodies are read (PUT and bulk POST of work items): only JSON in UTF-8 is taken, and a body
/// over its route's limits is refused with a 413 naming the limit and its setting, logged as nothing worse
/// than a warning.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class JsonBodyTests(JsonBodyFixture fixture) : IClassFixture<JsonBodyFixture>
{
    private HttpClient Http => fixture.Node.Http;

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private static ByteArrayContent Body(byte[] bytes, string? contentType)
    {
        var content = new ByteArrayContent(bytes);
        if (contentType is not null)
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    /// <summary>The same bytes without a Content-Length: the limit can only be found while reading.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private List<LogEvent> ErrorsSince(int count) =>
        fixture.Log.Skip(count).Where(e => e.Level >= LogEventLevel.Error).ToList();

    [Fact]
    public async Task ReadAsync_ContentTypes_OnlyJsonInUtf8IsTaken_OthersGet415SayingWhatToSend()
    {
        (string? ContentType, byte[]? Body, HttpStatusCode Expected)[] cases =
        [
            ("text/json", "{}"u8.ToArray(), HttpStatusCode.UnsupportedMediaType),
            ("application/jsonp", "{}"u8.ToArray(), HttpStatusCode.UnsupportedMediaType),
            ("text/plain; note=json", "{}"u8.ToArray(), HttpStatusCode.UnsupportedMediaType),
            ("application/json; charset=utf-16", "{}"u8.ToArray(), HttpStatusCode.UnsupportedMediaType),
            (null, "{}"u8.ToArray(), HttpStatusCode.UnsupportedMediaType),
            ("application/json", "{}"u8.ToArray(), HttpStatusCode.OK),
            ("application/json; charset=utf-8", "{}"u8.ToArray(), HttpStatusCode.OK),
            ("application/merge-patch+json", "{}"u8.ToArray(), HttpStatusCode.OK),
            (null, null, HttpStatusCode.BadRequest), // no body at all: says the body is empty
        ];
        foreach (var (contentType, body, expected) in cases)
        {
            var id = NewId("type");
            using var response = await Http.PutAsync($"/api/work-items/plain/{id}", body is null ? null : Body(body, contentType));

            var text = await response.Content.ReadAsStringAsync();
            Assert.True(expected == response.StatusCode, $"Content-Type '{contentType}': expected {(int)expected}, got {(int)response.StatusCode}: {text}");
            if (expected == HttpStatusCode.UnsupportedMediaType)
            {
                Assert.Contains("application/json", text, StringComparison.Ordinal);
                Assert.Null(await fixture.Node.ItemAsync("plain", id));
            }
            if (expected == HttpStatusCode.BadRequest)
                Assert.Contains("empty", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ReadAsync_InvalidUtf8InAString_Returns400NamingThePosition()
    {
        var body = "{\"tier\":\n \"a"u8.ToArray().Concat(new byte[] { 0xC3, 0x28 }).Concat("\"}"u8.ToArray()).ToArray();
        var logged = fixture.Log.Count;

        using var response = await Http.PutAsync($"/api/work-items/plain/{NewId("utf8")}", Body(body, "application/json"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("UTF-8", detail, StringComparison.Ordinal);
        Assert.Contains("0xC3 at line 2, position 4", detail, StringComparison.Ordinal);
        Assert.Empty(ErrorsSince(logged));
    }

    [Fact]
    public async Task ReadAsync_PutBodyDeclaredOverKestrelsOwnLimit_Returns413NamingTheSetting_AndLogsNoError()
    {
        // 31 MB declared: over the PUT limit and over Kestrel's default of 30 MB. The node answers from the
        // Content-Length and closes, so the client sends only the start (an HttpClient would fail writing the rest).
        var logged = fixture.Log.Count;
        var address = Http.BaseAddress!;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        await using var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"PUT /api/work-items/plain/{NewId("large")} HTTP/1.1\r\nHost: {address.Authority}\r\nContent-Type: application/json\r\n"
            + "Content-Length: 31000000\r\n\r\n{\"payload\":{\"s\":\"" + new string('x', 60_000)));

        var (status, body) = await ReadResponseAsync(stream);

        Assert.True(status == 413, $"Expected 413, got {status}: {body}");
        Assert.Contains("application/problem+json", body, StringComparison.Ordinal);
        Assert.Contains("RequestLimits:MaxBodyBytes", body, StringComparison.Ordinal);
        Assert.Contains("262,144", body, StringComparison.Ordinal);
        Assert.Empty(ErrorsSince(logged));
    }

    /// <summary>The status and the text (headers and body) of one HTTP/1.1 response.</summary>
    private static async Task<(int Status, string Text)> ReadResponseAsync(Stream stream)
    {
        var received = new List<byte>();
        var buffer = new byte[8192];
        int? total = null;
        while (total is null || received.Count < total)
        {
            var n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            if (n == 0)
                break;
            received.AddRange(buffer.AsSpan(0, n).ToArray());
            var text = Encoding.UTF8.GetString(received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (total is null && end >= 0)
            {
                var length = text[..end].Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                total = end + 4 + (length is null ? 0 : int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        var response = Encoding.UTF8.GetString(received.ToArray());
        return (int.Parse(response.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture), response);
    }

    [Fact]
    public async Task ReadAsync_PutBodyOverItsLimitWithoutLength_Returns413NamingTheSetting_AndLogsNoError()
    {
        // Chunked: the limit is found while reading. 300 KB is over the PUT limit (256 KiB) and fits in the
        // loopback socket's buffers, so the client has sent it all when the node answers and closes.
        var bytes = Encoding.UTF8.GetBytes("{\"payload\":{\"s\":\"" + new string('x', 300_000) + "\"}}");
        var logged = fixture.Log.Count;
        using var content = new ChunkedContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        using var response = await Http.PutAsync($"/api/work-items/plain/{NewId("over")}", content);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("RequestLimits:MaxBodyBytes", detail, StringComparison.Ordinal);
        Assert.Empty(ErrorsSince(logged));
        using var health = await Http.GetAsync("/api/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task ReadAsync_BulkBodyWithTooManyValues_Returns413NamingTheSetting_BeforeAnythingIsStored()
    {
        // 300,000 values in 600 KB: within the bulk byte limit, over the value limit (250,000).
        var id = NewId("values");
        var json = $$"""{"dataType":"plain","items":[{"entityId":"{{id}}","payload":{"a":[""" + string.Join(',', Enumerable.Repeat('0', 300_000)) + "]}}]}";

        using var response = await Http.PostAsync("/api/work-items", Body(Encoding.UTF8.GetBytes(json), "application/json"));

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("300,0", detail, StringComparison.Ordinal);
        Assert.Contains("RequestLimits:MaxJsonValues", detail, StringComparison.Ordinal);
        Assert.Null(await fixture.Node.ItemAsync("plain", id));
    }

    [Fact]
    public async Task ReadAsync_BulkWithTooManyItems_Returns400NamingTheCountAndTheSetting()
    {
        var items = Enumerable.Range(0, 10_001).Select(i => new { entityId = $"many-{i}" });

        using var response = await Http.PostAsJsonAsync("/api/work-items", new { dataType = "plain", Items = items });

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("10001", detail, StringComparison.Ordinal);
        Assert.Contains("RequestLimits:MaxBulkItems", detail, StringComparison.Ordinal);
    }
}
