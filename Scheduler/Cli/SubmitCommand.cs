using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using BatchScheduler.Hosting;

namespace BatchScheduler.Cli;

/// <summary>What <c>Scheduler submit</c> was asked to do, already parsed and defaulted.</summary>
internal sealed record SubmitOptions
{
    /// <summary>The batch file: <c>.jsonl</c>/<c>.ndjson</c> or <c>.csv</c>.</summary>
    public required string FilePath { get; init; }

    public required string DataType { get; init; }

    /// <summary>Wait until the batch ends, showing progress; the exit code then says how it ended.</summary>
    public bool Wait { get; init; }

    /// <summary>The node's base address; the API is under <c>{Url}/api</c>.</summary>
    public Uri Url { get; init; } = new(NodeHost.DefaultUrl);

    /// <summary>Sent as <c>X-Api-Key</c> when set.</summary>
    public string? ApiKey { get; init; }

    public DateTimeOffset? Deadline { get; init; }

    public Uri? CallbackUrl { get; init; }

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one progress request may take. The upload itself has no overall limit: its time grows with the file.</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// <c>Scheduler submit</c>: uploads a batch file to a node's <c>POST /api/batches</c> and, when asked,
/// follows <c>GET /api/batches/{id}</c> until the batch ends.
/// </summary>
internal static class SubmitCommand
{
    /// <summary>Accepted (without --wait), or completed.</summary>
    public const int Completed = 0;

    /// <summary>The batch ended partial_success, failed, expired or cancelled.</summary>
    public const int NotCompleted = 1;

    /// <summary>Bad options or input: missing file, unsupported extension, a 4xx from the node.</summary>
    public const int UsageError = 2;

    /// <summary>The node could not be reached, failed (5xx) or did not answer in time.</summary>
    public const int NodeUnavailable = 3;

    /// <summary>Ctrl+C: the command stopped; the batch did not.</summary>
    public const int Interrupted = 130;

    public static async Task<int> RunAsync(SubmitOptions options, HttpClient http, TextWriter output, TextWriter error, bool interactive, CancellationToken cancellationToken)
    {
        var api = new BatchesClient(options, http);
        if (MediaTypeOf(options.FilePath) is not { } mediaType)
        {
            await error.WriteLineAsync($"Cannot submit '{options.FilePath}': only .jsonl, .ndjson and .csv files are accepted.");
            return UsageError;
        }

        BatchSnapshot accepted;
        try
        {
            await using var file = OpenForUpload(options.FilePath);
            accepted = await api.SubmitAsync(file, mediaType, cancellationToken);
        }
        catch (SubmitFailedException ex)
        {
            await error.WriteLineAsync(ex.Message);
            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync($"Interrupted before the node answered; the batch may or may not have been accepted. List the batches: GET {api.Batches}");
            return Interrupted;
        }

        await output.WriteLineAsync($"Batch {accepted.Id} accepted: {accepted.Status}, total {Count(accepted.Total)}, invalid {Count(accepted.Invalid)}.");
        if (!options.Wait)
        {
            await output.WriteLineAsync($"Follow it: GET {api.BatchUri(accepted.Id!)}");
            return Completed;
        }
        return await WaitAsync(api, accepted.Id!, output, error, interactive, cancellationToken);
    }

    private static async Task<int> WaitAsync(BatchesClient api, string id, TextWriter output, TextWriter error, bool interactive, CancellationToken cancellationToken)
    {
        var progress = new BatchProgressBar(output, interactive);
        BatchSnapshot state;
        try
        {
            while (true)
            {
                state = await api.GetAsync(id, cancellationToken);
                await progress.ShowAsync(state);
                if (state.IsTerminal)
                    break;
                await Task.Delay(api.Options.PollInterval, cancellationToken);
            }
        }
        catch (SubmitFailedException ex)
        {
            await progress.EndAsync();
            await error.WriteLineAsync($"{ex.Message} Stopped waiting; the batch may still be running. Check it later: GET {api.BatchUri(id)}");
            return ex.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await progress.EndAsync();
            await error.WriteLineAsync($"Stopped waiting. Batch {id} keeps running on the node; check it later: GET {api.BatchUri(id)}");
            return Interrupted;
        }

        await progress.EndAsync();
        var outcome = state.FinalOutcome;
        await output.WriteLineAsync(
            $"Batch {id} {outcome}{(state.Status == BatchSnapshot.Archived ? " (archived)" : "")}: total {Count(state.Total)}, " +
            $"succeeded {Count(state.Succeeded)}, failed {Count(state.Failed)}, invalid {Count(state.Invalid)}, pending {Count(state.Pending)}.");
        if (outcome != BatchSnapshot.CompletedStatus || state.Failed + state.Invalid > 0)
            await output.WriteLineAsync($"Errors (failed and invalid records, with reasons): GET {api.BatchUri(id)}/errors");
        return outcome == BatchSnapshot.CompletedStatus ? Completed : NotCompleted;
    }

    /// <summary>The Content-Type the node expects for the file, or null for a file it does not take.</summary>
    public static string? MediaTypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" or ".ndjson" => "application/x-ndjson",
        ".csv" => "text/csv",
        _ => null,
    };

    private static FileStream OpenForUpload(string path)
    {
        try
        {
            // Read as the upload goes: a batch file can be far larger than this process should hold.
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SubmitFailedException(UsageError, $"Cannot submit '{path}': the file does not exist.");
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new SubmitFailedException(UsageError, $"Cannot read '{path}': {ex.Message}");
        }
    }

    internal static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

/// <summary>Why submitting or waiting stopped, with the exit code that says so.</summary>
internal sealed class SubmitFailedException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// Reads <c>--deadline</c>: an ISO-8601 instant with an offset (<c>2025-06-01T18:00:00Z</c>) or a
/// duration from now (<c>00:30:00</c>). The node is always sent the instant.
/// </summary>
internal static class SubmitDeadline
{
    public static bool TryParse(string text, DateTimeOffset now, out DateTimeOffset deadline, [NotNullWhen(false)] out string? problem)
    {
        deadline = default;
        // A duration first: "00:30:00" would also parse as a time of day today.
        if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var fromNow) && text.Contains(':'))
        {
            if (fromNow <= TimeSpan.Zero)
            {
                problem = $"--deadline '{text}' is not a positive duration; give one like 00:30:00 or an instant like 2025-06-01T18:00:00Z.";
                return false;
            }
            deadline = now + fromNow;
            problem = null;
            return true;
        }
        if (!DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var parsed))
        {
            problem = $"--deadline '{text}' is neither an ISO-8601 instant (2025-06-01T18:00:00Z) nor a duration (00:30:00).";
            return false;
        }
        if (parsed.Kind == DateTimeKind.Unspecified)
        {
            problem = $"--deadline '{text}' has no offset, so the instant is ambiguous; add one, e.g. {text}Z or {text}+02:00.";
            return false;
        }
        deadline = new DateTimeOffset(parsed.ToUniversalTime(), TimeSpan.Zero);
        if (deadline <= now)
        {
            problem = $"--deadline '{text}' is in the past.";
            return false;
        }
        problem = null;
        return true;
    }
}

/// <summary>A batch as <c>POST /api/batches</c> and <c>GET /api/batches/{id}</c> return it.</summary>
internal sealed record BatchSnapshot(string? Id, string? Status, long Total, long Succeeded, long Failed, long Invalid, long Pending, string? Outcome)
{
    public const string CompletedStatus = "completed";
    public const string Archived = "archived";

    public bool IsTerminal => Status is not ("validating" or "in_progress");

    /// <summary>How the batch ended: an archived batch keeps its final status as <see cref="Outcome"/>.</summary>
    public string FinalOutcome => Status == Archived ? Outcome ?? Archived : Status ?? "unknown";
}

/// <summary>The node's <c>/api/batches</c> routes, with every failure turned into a <see cref="SubmitFailedException"/>.</summary>
internal sealed class BatchesClient(SubmitOptions options, HttpClient http)
{
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    public SubmitOptions Options => options;

    public Uri Batches { get; } = new(new Uri(options.Url.AbsoluteUri.TrimEnd('/') + "/"), "api/batches");

    public Uri BatchUri(string id) => new($"{Batches.AbsoluteUri}/{Uri.EscapeDataString(id)}");

    public async Task<BatchSnapshot> SubmitAsync(Stream file, string mediaType, CancellationToken cancellationToken)
    {
        var query = $"?dataType={Uri.EscapeDataString(options.DataType)}";
        if (options.Deadline is { } deadline)
            query += $"&deadline={Uri.EscapeDataString(deadline.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))}";
        if (options.CallbackUrl is { } callback)
            query += $"&callbackUrl={Uri.EscapeDataString(callback.AbsoluteUri)}";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Batches.AbsoluteUri + query)) { Content = new StreamContent(file) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return await ExchangeAsync(request, timeout: null, cancellationToken);
    }

    public async Task<BatchSnapshot> GetAsync(string id, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BatchUri(id));
        return await ExchangeAsync(request, options.PollTimeout, cancellationToken);
    }

    private async Task<BatchSnapshot> ExchangeAsync(HttpRequestMessage request, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(options.ApiKey))
            request.Headers.Add("X-Api-Key", options.ApiKey);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t)
            limit.CancelAfter(t);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            var body = await response.Content.ReadAsStringAsync(limit.Token);
            if (!response.IsSuccessStatusCode)
                throw Refused(response, body);
            return ReadBatch(response, body);
        }
        catch (HttpRequestException ex)
        {
            throw new SubmitFailedException(SubmitCommand.NodeUnavailable, $"The node at {options.Url} could not be reached: {ex.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SubmitFailedException(SubmitCommand.NodeUnavailable, $"The node at {options.Url} did not answer {request.Method} {request.RequestUri?.AbsolutePath} in time.");
        }
    }

    private static BatchSnapshot ReadBatch(HttpResponseMessage response, string body)
    {
        try
        {
            if (JsonSerializer.Deserialize<BatchSnapshot>(body, Json) is { Id.Length: > 0, Status.Length: > 0 } batch)
                return batch;
        }
        catch (JsonException)
        {
            // Reported below with what the node did send.
        }
        throw new SubmitFailedException(SubmitCommand.NodeUnavailable,
            $"The node answered {(int)response.StatusCode} but not with a batch: {Excerpt(body)}");
    }

    private SubmitFailedException Refused(HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        var what = ProblemText(body) ?? (body.Length > 0 ? Excerpt(body) : response.ReasonPhrase ?? "no reason given");
        if (status is >= 400 and < 500)
        {
            var hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                ? " Pass an API key with --api-key or BATCHSCHEDULER_API_KEY."
                : "";
            return new SubmitFailedException(SubmitCommand.UsageError, $"The node refused the request ({status}): {what}{hint}");
        }
        return new SubmitFailedException(SubmitCommand.NodeUnavailable, $"The node failed ({status}): {what}");
    }

    /// <summary>The RFC 7807 problem's detail (else its title), or null when the body is not one.</summary>
    private static string? ProblemText(string body)
    {
        try
        {
            var problem = JsonSerializer.Deserialize<Problem>(body, Json);
            return string.IsNullOrWhiteSpace(problem?.Detail) ? problem?.Title : problem.Detail;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Excerpt(string body) => body.Length <= 200 ? body : body[..200] + "…";

    private sealed record Problem(string? Title, string? Detail, int? Status);
}

/// <summary>
/// One line of progress: redrawn in place on a terminal, else one line per change so that logs
/// of a redirected run stay readable.
/// </summary>
internal sealed class BatchProgressBar(TextWriter output, bool interactive)
{
    private const int Width = 20;
    private (long Succeeded, long Failed, long Invalid, long Pending)? _shown;
    private int _drawn;

    public async Task ShowAsync(BatchSnapshot state)
    {
        var counts = (state.Succeeded, state.Failed, state.Invalid, state.Pending);
        if (_shown == counts)
            return;
        _shown = counts;
        var line = Format(state);
        if (interactive)
        {
            // Pad over the previous line in case this one is shorter.
            await output.WriteAsync("\r" + line.PadRight(_drawn));
            _drawn = line.Length;
        }
        else
        {
            await output.WriteLineAsync(line);
        }
        await output.FlushAsync();
    }

    /// <summary>Ends the redrawn line so that what follows starts on its own.</summary>
    public async Task EndAsync()
    {
        if (_drawn == 0)
            return;
        _drawn = 0;
        await output.WriteLineAsync();
    }

    public static string Format(BatchSnapshot state)
    {
        var finished = state.Total > 0 ? Math.Clamp(state.Total - state.Pending, 0, state.Total) : 0;
        var filled = state.Total > 0 ? (int)(finished * Width / state.Total) : Width;
        var percent = state.Total > 0 ? finished * 100 / state.Total : 100;
        return $"[{new string('#', filled)}{new string('.', Width - filled)}]{percent,4}%  done {SubmitCommand.Count(state.Succeeded)}  " +
               $"failed {SubmitCommand.Count(state.Failed)}  invalid {SubmitCommand.Count(state.Invalid)}  pending {SubmitCommand.Count(state.Pending)}";
    }
}
