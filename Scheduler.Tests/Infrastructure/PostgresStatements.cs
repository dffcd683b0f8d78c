using System.Collections.Concurrent;
using System.Diagnostics;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// Records the SQL text of every command Npgsql runs against one database (from its tracing
/// activities), for tests that must tell which statements a code path ran. Other tests' databases
/// are ignored, so it is safe beside tests running in parallel.
/// </summary>
public sealed class PostgresStatements : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<string> _texts = new();

    public PostgresStatements(string database)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("db.namespace") as string == database && activity.GetTagItem("db.query.text") is string text)
                    _texts.Enqueue(text);
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>How many recorded commands contained <paramref name="fragment"/>.</summary>
    public int Count(string fragment) => _texts.Count(t => t.Contains(fragment, StringComparison.Ordinal));

    public void Clear() => _texts.Clear();

    public void Dispose() => _listener.Dispose();
}
