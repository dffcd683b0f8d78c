using System.Globalization;

namespace BatchScheduler.Coordination;

/// <summary>
/// The clock of one attempt: cancels its token once it has run for its data type's <c>Timeout</c>, and
/// once its token is cancelled for a timeout or by an operator, calls <c>overdue</c> when the executor
/// has not returned within <see cref="Grace"/>, so that the attempt's outcome is written although an
/// executor that ignores its token keeps running (and keeps its slot).
/// </summary>
internal sealed class AttemptDeadline : IDisposable
{
    /// <summary>How long an executor has to return after its token is cancelled for a timeout or by an operator.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    private readonly ITimer? _timeout;
    private readonly CancellationTokenRegistration _cancelled;
    private ITimer? _grace;
    private int _disposed;

    public AttemptDeadline(RunningClaim claim, TimeSpan? timeout, TimeProvider time, Action overdue)
    {
        if (timeout is { } limit)
        {
            var cancel = new AttemptCancel(CancelCause.TimedOut, TimedOut(limit));
            _timeout = time.CreateTimer(_ => claim.Cancel(cancel), null, limit, Timeout.InfiniteTimeSpan);
        }
        _cancelled = claim.Token.Register(() =>
        {
            if (claim.Cancellation is { EndsAfterGrace: true } && Volatile.Read(ref _disposed) == 0)
                Volatile.Write(ref _grace, time.CreateTimer(_ => overdue(), null, Grace, Timeout.InfiniteTimeSpan));
        });
    }

    /// <summary>
    /// The reason of a timed-out attempt: <c>timed out after 00:00:05</c>, the setting in its <c>c</c> format without
    /// trailing zeros of a fraction (<c>00:00:00.5</c>).
    /// </summary>
    public static string TimedOut(TimeSpan timeout)
    {
        var text = timeout.ToString("c", CultureInfo.InvariantCulture);
        return $"timed out after {(timeout.Ticks % TimeSpan.TicksPerSecond == 0 ? text : text.TrimEnd('0'))}";
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _cancelled.Dispose(); // waits for a running callback, so a grace timer it starts is seen below
        _timeout?.Dispose();
        Volatile.Read(ref _grace)?.Dispose();
    }
}
