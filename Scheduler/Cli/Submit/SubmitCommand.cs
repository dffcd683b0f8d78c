using System.Globalization;

namespace BatchScheduler.Cli.Submit;

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
