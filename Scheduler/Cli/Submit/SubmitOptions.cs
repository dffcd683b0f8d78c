using BatchScheduler.Hosting;

namespace BatchScheduler.Cli.Submit;

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
