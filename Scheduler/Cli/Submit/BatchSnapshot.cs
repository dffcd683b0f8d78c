namespace BatchScheduler.Cli.Submit;

/// <summary>A batch as <c>POST /api/batches</c> and <c>GET /api/batches/{id}</c> return it.</summary>
internal sealed record BatchSnapshot(string? Id, string? Status, long Total, long Succeeded, long Failed, long Invalid, long Pending, string? Outcome)
{
    public const string CompletedStatus = "completed";
    public const string Archived = "archived";

    public bool IsTerminal => Status is not ("validating" or "in_progress");

    /// <summary>How the batch ended: an archived batch keeps its final status as <see cref="Outcome"/>.</summary>
    public string FinalOutcome => Status == Archived ? Outcome ?? Archived : Status ?? "unknown";
}
