namespace BatchScheduler.Configuration;

/// <summary>Batches from files (section <c>Batches</c>).</summary>
internal sealed class BatchOptions
{
    public const string Section = "Batches";

    /// <summary>How long a finished batch keeps its work items before it is archived (items pruned, outputs kept).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The largest record (one line, or one CSV record) accepted, in bytes; bigger ones are rejected with their line number.</summary>
    public int MaxRecordBytes { get; set; } = 1_048_576;

    /// <summary>How often each node looks after batches: registration, progress, deadlines, callbacks, archiving.</summary>
    public TimeSpan MonitorInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one completion callback request may take.</summary>
    public TimeSpan CallbackTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between two callback attempts (they back off from 5 s, doubling).</summary>
    public TimeSpan CallbackMaxDelay { get; set; } = TimeSpan.FromMinutes(10);
}
