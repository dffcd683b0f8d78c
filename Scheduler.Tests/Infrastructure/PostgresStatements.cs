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
    private readonly ConcurrentQueue<string> _errors = new();

    public PostgresStatements(string database)
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("db.namespace") as string != database)
                    return;
                if (activity.GetTagItem("db.query.text") is string text)
                    _texts.Enqueue(text);
                if (activity.Status == ActivityStatusCode.Error)
                    _errors.Enqueue($"{activity.GetTagItem("db.response.status_code") ?? activity.GetTagItem("error.type")}");
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>How many recorded commands contained <paramref name="fragment"/>.</summary>
    public int Count(string fragment) => _texts.Count(t => t.Contains(fragment, StringComparison.Ordinal));

    /// <summary>The error of each recorded command that failed: PostgreSQL's SQLSTATE (e.g. 40P01 for a deadlock).</summary>
    public IReadOnlyList<string> Errors => [.. _errors];

    public void Clear()
    {
        _texts.Clear();
        _errors.Clear();
    }

    public void Dispose() => _listener.Dispose();
}
