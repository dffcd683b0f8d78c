using System.CommandLine;
using System.Net;
using System.Text;
using BatchScheduler.Cli;
using BatchScheduler.Cli.Submit;

namespace BatchScheduler.Tests.Cli;

/// <summary>
/// <c>Scheduler submit</c> against a scripted node: what it sends, what it prints and the exit code
/// a script relies on.
/// </summary>
public sealed class SubmitCommandTests : IDisposable
{
    private const string NodeUrl = "http://node.test:5080";
    private const string BatchId = "b-42";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"submit-{Guid.NewGuid():N}");
    private readonly ScriptedNode _node = new();
    private readonly StringWriter _output = new() { NewLine = "\n" };
    private readonly StringWriter _error = new() { NewLine = "\n" };

    public SubmitCommandTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        _node.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private string BatchFile(string name = "prices.jsonl", string content = "{\"entityId\":\"AAPL\"}\n{\"entityId\":\"MSFT\"}\n")
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private SubmitOptions Options(string path, bool wait = false) => new()
    {
        FilePath = path,
        DataType = "daily-prices",
        Wait = wait,
        Url = new Uri(NodeUrl),
        PollInterval = TimeSpan.Zero,
    };

    private async Task<int> RunAsync(SubmitOptions options, bool interactive = false, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient(_node, disposeHandler: false);
        return await SubmitCommand.RunAsync(options, http, _output, _error, interactive, cancellationToken);
    }

    private static string Batch(string status, long succeeded = 0, long failed = 0, long invalid = 0, long pending = 0, string? outcome = null) =>
        $$"""
        {"id":"{{BatchId}}","dataType":"daily-prices","status":"{{status}}","total":{{succeeded + failed + invalid + pending}},
         "succeeded":{{succeeded}},"failed":{{failed}},"invalid":{{invalid}},"pending":{{pending}},
         "createdAt":"2025-06-01T12:00:00Z","finishedAt":null,"deadline":null,"outcome":{{(outcome is null ? "null" : $"\"{outcome}\"")}}}
        """;

    private static string Accepted(long total = 2, long invalid = 0) =>
        $$"""{"id":"{{BatchId}}","status":"in_progress","total":{{total}},"invalid":{{invalid}}}""";

    [Fact]
    public async Task RunAsync_JsonlFile_PostsTheFileStreamedWithQueryAndApiKey()
    {
        var path = BatchFile();
        _node.Respond(HttpStatusCode.Created, Accepted());
        var options = Options(path) with
        {
            ApiKey = "s3cret",
            Deadline = new DateTimeOffset(2025, 6, 1, 18, 30, 0, TimeSpan.FromHours(2)),
            CallbackUrl = new Uri("https://hooks.test/done?x=1"),
        };

        await RunAsync(options);

        var request = Assert.Single(_node.Requests);
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("/api/batches", request.Uri.AbsolutePath);
        var query = System.Web.HttpUtility.ParseQueryString(request.Uri.Query);
        Assert.Equal("daily-prices", query["dataType"]);
        Assert.Equal("2025-06-01T16:30:00Z", query["deadline"]);
        Assert.Equal("https://hooks.test/done?x=1", query["callbackUrl"]);
        Assert.Equal("application/x-ndjson", request.ContentType);
        Assert.Equal(await File.ReadAllBytesAsync(path), request.Body);
        Assert.Equal(typeof(StreamContent), request.ContentKind);
        Assert.Equal("s3cret", request.ApiKey);
    }

    [Theory]
    [InlineData("items.jsonl", "application/x-ndjson")]
    [InlineData("items.ndjson", "application/x-ndjson")]
    [InlineData("items.csv", "text/csv")]
    [InlineData("ITEMS.CSV", "text/csv")]
    public async Task RunAsync_FileExtension_SetsTheContentType(string name, string expected)
    {
        _node.Respond(HttpStatusCode.Created, Accepted());

        await RunAsync(Options(BatchFile(name, "entityId\nAAPL\n")));

        Assert.Equal(expected, Assert.Single(_node.Requests).ContentType);
    }

    [Fact]
    public async Task RunAsync_NoApiKeyNoDeadline_SendsNeitherAndKeepsTheUrlsPath()
    {
        _node.Respond(HttpStatusCode.Created, Accepted());

        await RunAsync(Options(BatchFile()) with { Url = new Uri("http://node.test/scheduler") });

        var request = Assert.Single(_node.Requests);
        Assert.Equal("/scheduler/api/batches", request.Uri.AbsolutePath);
        Assert.Equal("?dataType=daily-prices", request.Uri.Query);
        Assert.Null(request.ApiKey);
    }

    [Fact]
    public async Task RunAsync_WithoutWait_PrintsIdStatusAndCountsAndExits0WithoutPolling()
    {
        _node.Respond(HttpStatusCode.Created, Accepted(total: 10_000, invalid: 3));

        var exit = await RunAsync(Options(BatchFile()));

        Assert.Equal(SubmitCommand.Completed, exit);
        Assert.Single(_node.Requests);
        var output = _output.ToString();
        Assert.Contains(BatchId, output);
        Assert.Contains("in_progress", output);
        Assert.Contains("total 10,000", output);
        Assert.Contains("invalid 3", output);
        Assert.Equal("", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_WaitUntilCompleted_PollsTheBatchAndExits0()
    {
        _node.Respond(HttpStatusCode.Created, Accepted());
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", pending: 2));
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", succeeded: 1, pending: 1));
        _node.Respond(HttpStatusCode.OK, Batch("completed", succeeded: 2));

        var exit = await RunAsync(Options(BatchFile(), wait: true) with { ApiKey = "k" });

        Assert.Equal(SubmitCommand.Completed, exit);
        Assert.Equal(4, _node.Requests.Count);
        Assert.All(_node.Requests.Skip(1), r =>
        {
            Assert.Equal(HttpMethod.Get, r.Method);
            Assert.Equal($"/api/batches/{BatchId}", r.Uri.AbsolutePath);
            Assert.Equal("k", r.ApiKey);
        });
        Assert.Contains($"Batch {BatchId} completed: total 2, succeeded 2, failed 0, invalid 0", _output.ToString());
    }

    [Theory]
    [InlineData("partial_success")]
    [InlineData("failed")]
    [InlineData("cancelled")]
    [InlineData("expired")]
    public async Task RunAsync_WaitEndsNotCompleted_Exits1AndSaysWhereTheErrorsAre(string status)
    {
        _node.Respond(HttpStatusCode.Created, Accepted());
        _node.Respond(HttpStatusCode.OK, Batch(status, succeeded: 1, failed: 1));

        var exit = await RunAsync(Options(BatchFile(), wait: true));

        Assert.Equal(SubmitCommand.NotCompleted, exit);
        Assert.Contains($"Batch {BatchId} {status}:", _output.ToString());
        Assert.Contains($"GET {NodeUrl}/api/batches/{BatchId}/errors", _output.ToString());
    }

    [Theory]
    [InlineData("completed", SubmitCommand.Completed)]
    [InlineData("partial_success", SubmitCommand.NotCompleted)]
    public async Task RunAsync_WaitFindsTheBatchArchived_ExitsByItsOutcome(string outcome, int expected)
    {
        _node.Respond(HttpStatusCode.Created, Accepted());
        _node.Respond(HttpStatusCode.OK, Batch("archived", succeeded: 2, outcome: outcome));

        var exit = await RunAsync(Options(BatchFile(), wait: true));

        Assert.Equal(expected, exit);
        Assert.Contains($"{outcome} (archived)", _output.ToString());
    }

    [Fact]
    public async Task RunAsync_NodeRefusesWithProblem_Exits2AndPrintsTheDetail()
    {
        _node.Respond(HttpStatusCode.BadRequest,
            """{"title":"Bad request","detail":"Unknown data type 'daily-prices'.","status":400}""", "application/problem+json");

        var exit = await RunAsync(Options(BatchFile(), wait: true));

        Assert.Equal(SubmitCommand.UsageError, exit);
        Assert.Single(_node.Requests);
        Assert.Contains("Unknown data type 'daily-prices'.", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_NodeAnswers401_Exits2AndPointsAtTheApiKey()
    {
        _node.Respond(HttpStatusCode.Unauthorized, "");

        var exit = await RunAsync(Options(BatchFile()));

        Assert.Equal(SubmitCommand.UsageError, exit);
        Assert.Contains("--api-key", _error.ToString());
    }

    [Theory]
    [InlineData("items.json")]
    [InlineData("items.txt")]
    [InlineData("items")]
    public async Task RunAsync_UnsupportedExtension_Exits2WithoutARequest(string name)
    {
        var exit = await RunAsync(Options(BatchFile(name)));

        Assert.Equal(SubmitCommand.UsageError, exit);
        Assert.Empty(_node.Requests);
        Assert.Contains(".jsonl, .ndjson and .csv", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_MissingFile_Exits2WithoutARequest()
    {
        var path = Path.Combine(_directory, "absent.jsonl");

        var exit = await RunAsync(Options(path));

        Assert.Equal(SubmitCommand.UsageError, exit);
        Assert.Empty(_node.Requests);
        Assert.Contains($"Cannot submit '{path}': the file does not exist.", _error.ToString()); // the absolute path it tried
    }

    [Fact]
    public async Task RunAsync_NodeFails500_Exits3()
    {
        _node.Respond(HttpStatusCode.InternalServerError, """{"title":"Internal error","detail":"database is locked","status":500}""");

        var exit = await RunAsync(Options(BatchFile()));

        Assert.Equal(SubmitCommand.NodeUnavailable, exit);
        Assert.Contains("database is locked", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_ConnectionRefused_Exits3()
    {
        _node.Respond(_ => throw new HttpRequestException("Connection refused (node.test:5080)"));

        var exit = await RunAsync(Options(BatchFile()));

        Assert.Equal(SubmitCommand.NodeUnavailable, exit);
        Assert.Contains("could not be reached", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_PollNotAnsweredInTime_Exits3AndSaysTheBatchMayStillRun()
    {
        _node.Respond(HttpStatusCode.Created, Accepted());
        _node.Respond(async ct =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            throw new InvalidOperationException("unreachable: the delay only ends by cancellation");
        });

        var exit = await RunAsync(Options(BatchFile(), wait: true) with { PollTimeout = TimeSpan.FromMilliseconds(20) });

        Assert.Equal(SubmitCommand.NodeUnavailable, exit);
        Assert.Contains("in time", _error.ToString());
        Assert.Contains($"GET {NodeUrl}/api/batches/{BatchId}", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_SuccessThatIsNotABatch_Exits3()
    {
        _node.Respond(HttpStatusCode.Created, "<html>proxy says hi</html>", "text/html");

        var exit = await RunAsync(Options(BatchFile()));

        Assert.Equal(SubmitCommand.NodeUnavailable, exit);
        Assert.Contains("not with a batch", _error.ToString());
    }

    [Fact]
    public async Task RunAsync_WaitRedirected_PrintsOneLinePerChangeAndNoneForUnchangedPolls()
    {
        _node.Respond(HttpStatusCode.Created, Accepted(total: 4));
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", pending: 4));
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", pending: 4));
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", succeeded: 2, pending: 2));
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", succeeded: 2, pending: 2));
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", succeeded: 2, pending: 2));
        _node.Respond(HttpStatusCode.OK, Batch("completed", succeeded: 3, failed: 1));

        await RunAsync(Options(BatchFile(), wait: true), interactive: false);

        var output = _output.ToString();
        Assert.DoesNotContain('\r', output);
        var bars = output.Split('\n').Where(line => line.StartsWith('[')).ToList();
        Assert.Equal(
        [
            "[....................]   0%  done 0  failed 0  invalid 0  pending 4",
            "[##########..........]  50%  done 2  failed 0  invalid 0  pending 2",
            "[####################] 100%  done 3  failed 1  invalid 0  pending 0",
        ], bars);
    }

    [Fact]
    public async Task RunAsync_WaitOnATerminal_RedrawsOneLineInPlace()
    {
        _node.Respond(HttpStatusCode.Created, Accepted());
        _node.Respond(HttpStatusCode.OK, Batch("in_progress", pending: 2));
        _node.Respond(HttpStatusCode.OK, Batch("completed", succeeded: 2));

        await RunAsync(Options(BatchFile(), wait: true), interactive: true);

        var output = _output.ToString();
        var progress = output.Split('\n')[1];
        Assert.Equal(2, progress.Count(c => c == '\r'));
        Assert.EndsWith("[####################] 100%  done 2  failed 0  invalid 0  pending 0", progress.TrimEnd());
        Assert.StartsWith($"Batch {BatchId} completed", output.Split('\n')[2]);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileWaiting_Exits130AndSaysHowToCheckLater()
    {
        using var ctrlC = new CancellationTokenSource();
        _node.Respond(HttpStatusCode.Created, Accepted());
        _node.Respond(_ =>
        {
            ctrlC.Cancel();
            return Task.FromResult(Json(HttpStatusCode.OK, Batch("in_progress", succeeded: 1, pending: 1)));
        });

        var exit = await RunAsync(Options(BatchFile(), wait: true), cancellationToken: ctrlC.Token);

        Assert.Equal(SubmitCommand.Interrupted, exit);
        Assert.Equal(2, _node.Requests.Count);
        Assert.Contains("keeps running", _error.ToString());
        Assert.Contains($"GET {NodeUrl}/api/batches/{BatchId}", _error.ToString());
    }

    [Fact]
    public void Format_HalfDone_DrawsHalfABarWithGroupedCounts()
    {
        var state = new BatchSnapshot(BatchId, "in_progress", 10_000, 5_000, 12, 3, 4_985, null);

        Assert.Equal("[##########..........]  50%  done 5,000  failed 12  invalid 3  pending 4,985", BatchProgressBar.Format(state));
    }

    [Fact]
    public void Format_AllButOneDone_DoesNotShow100Percent()
    {
        var state = new BatchSnapshot(BatchId, "in_progress", 1_000, 999, 0, 0, 1, null);

        Assert.StartsWith("[###################.]  99%", BatchProgressBar.Format(state));
    }

    [Theory]
    [InlineData("00:30:00", "2025-06-01T12:30:00Z")]
    [InlineData("1.00:00:00", "2025-06-02T12:00:00Z")]
    [InlineData("2025-06-01T18:00:00Z", "2025-06-01T18:00:00Z")]
    [InlineData("2025-06-01T18:00:00+02:00", "2025-06-01T16:00:00Z")]
    public void TryParseDeadline_DurationOrInstant_GivesTheInstant(string text, string expected)
    {
        var now = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

        Assert.True(SubmitDeadline.TryParse(text, now, out var deadline, out var problem), problem);

        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), deadline);
    }

    [Theory]
    [InlineData("2025-06-01T18:00:00", "no offset")]
    [InlineData("2025-06-01T11:00:00Z", "in the past")]
    [InlineData("-00:05:00", "not a positive duration")]
    [InlineData("tomorrow", "neither")]
    public void TryParseDeadline_Unusable_SaysWhy(string text, string expected)
    {
        var now = new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

        Assert.False(SubmitDeadline.TryParse(text, now, out _, out var problem));

        Assert.Contains(expected, problem);
    }

    [Theory]
    [InlineData("--no-such-option")]
    [InlineData("--poll-interval", "soon")]
    [InlineData("--deadline", "tomorrow")]
    [InlineData("--callback-url", "not-a-url")]
    public async Task CommandLine_BadOption_Exits2(params string[] extra)
    {
        var (exit, _, error) = await InvokeAsync(["submit", BatchFile(), "--data-type", "daily-prices", "--url", "http://127.0.0.1:1", .. extra]);

        Assert.Equal(SubmitCommand.UsageError, exit);
        Assert.Contains(extra[^1], error);
    }

    [Fact]
    public async Task CommandLine_NoDataType_Exits2NamingTheOption()
    {
        var (exit, _, error) = await InvokeAsync(["submit", BatchFile()]);

        Assert.Equal(SubmitCommand.UsageError, exit);
        Assert.Contains("--data-type", error);
    }

    [Fact]
    public async Task CommandLine_UnreachableNode_Exits3()
    {
        // Port 1 on loopback refuses at once: the real HttpClient's failure maps to 3 too.
        var (exit, _, error) = await InvokeAsync(["submit", BatchFile(), "--data-type", "daily-prices", "--url", "http://127.0.0.1:1"]);

        Assert.Equal(SubmitCommand.NodeUnavailable, exit);
        Assert.Contains("127.0.0.1:1", error);
    }

    [Fact]
    public async Task CommandLine_Help_DocumentsTheExitCodes()
    {
        var (exit, output, _) = await InvokeAsync(["submit", "--help"]);

        Assert.Equal(0, exit);
        foreach (var code in new[] { "0 accepted", "1 the batch ended", "2 usage", "3 node unreachable", "130 interrupted" })
            Assert.Contains(code, output);
    }

    private static async Task<(int Exit, string Output, string Error)> InvokeAsync(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await SchedulerCommands.Create().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    private static HttpResponseMessage Json(HttpStatusCode status, string body, string mediaType = "application/json") =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) };

    /// <summary>What the command sent, captured while the request was still open.</summary>
    private sealed record SentRequest(HttpMethod Method, Uri Uri, string? ContentType, byte[]? Body, Type? ContentKind, string? ApiKey);

    /// <summary>A node that answers from a script, in order, and records every request; an unscripted request fails the test.</summary>
    private sealed class ScriptedNode : HttpMessageHandler
    {
        private readonly Queue<Func<CancellationToken, Task<HttpResponseMessage>>> _script = new();

        public List<SentRequest> Requests { get; } = [];

        public void Respond(HttpStatusCode status, string body, string mediaType = "application/json") =>
            _script.Enqueue(_ => Task.FromResult(Json(status, body, mediaType)));

        public void Respond(Func<CancellationToken, Task<HttpResponseMessage>> answer) => _script.Enqueue(answer);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            Requests.Add(new SentRequest(request.Method, request.RequestUri!, request.Content?.Headers.ContentType?.MediaType, body,
                request.Content?.GetType(), request.Headers.TryGetValues("X-Api-Key", out var keys) ? string.Join(",", keys) : null));
            if (!_script.TryDequeue(out var answer))
                throw new InvalidOperationException($"Unscripted request {request.Method} {request.RequestUri}");
            return await answer(cancellationToken);
        }
    }
}
