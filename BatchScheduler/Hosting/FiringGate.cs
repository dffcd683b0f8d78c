namespace BatchScheduler.Hosting;

/// <summary>
/// Counts the firings this node's job store hands Quartz to run, from the store call that fires them
/// to their completion, and closes for good on shutdown: from then on the store fires nothing.
/// </summary>
/// <remarks>
/// <para>
/// A graceful shutdown must not let Quartz begin its own shutdown while a firing of this node is still
/// to run: once Quartz is shutting down it refuses every scheduler call, so that firing's outcome (a
/// retry, a deferral, the next cadence, a hand-back) could not move the item's trigger, and the item
/// was left <c>in_flight</c> with no trigger (found by the randomized lifecycle test). Putting Quartz in
/// standby is not enough: its scheduler thread still dispatches the round it was firing, and fires the
/// triggers it had acquired ahead when they fall due. Counting running claims is not enough either: a
/// dispatched firing claims its item only once its job runs.
/// </para>
/// <para>
/// Counted at the job store, which every firing passes through (<see cref="GatedJobStore"/>), there is
/// no gap: a firing is counted from the moment the call that fired it returns, a call in progress is
/// counted while it runs, and once the gate is closed the store refuses to fire.
/// </para>
/// </remarks>
internal sealed class FiringGate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _idle = NewSignal();
    private int _calls;
    private int _firings;
    private bool _closed;

    /// <summary>Firings handed out and not completed yet.</summary>
    public int Firings { get { lock (_lock) return _firings; } }

    /// <summary>Whether the gate is closed (the node is shutting down).</summary>
    public bool IsClosed { get { lock (_lock) return _closed; } }

    /// <summary>Before a store call that may fire triggers: false once the gate is closed (the call must fire nothing).</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_closed)
                return false;
            _calls++;
            return true;
        }
    }

    /// <summary>After a store call entered by <see cref="TryEnter"/>: how many firings it handed out.</summary>
    public void Exit(int fired)
    {
        lock (_lock)
        {
            _calls--;
            _firings += fired;
            SignalIfIdle();
        }
    }

    /// <summary>A firing's completion reached the store.</summary>
    public void Completed()
    {
        lock (_lock)
        {
            // Never below zero: a completion of a firing not counted here must not hide one that is.
            if (_firings > 0)
                _firings--;
            SignalIfIdle();
        }
    }

    /// <summary>No store call fires anything from now on.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            SignalIfIdle();
        }
    }

    /// <summary>Completes once no firing call is in progress and every firing handed out has completed.</summary>
    public async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task idle;
            lock (_lock)
            {
                if (_calls == 0 && _firings == 0)
                    return;
                if (_idle.Task.IsCompleted)
                    _idle = NewSignal();
                idle = _idle.Task;
            }
            await idle.WaitAsync(cancellationToken);
        }
    }

    private void SignalIfIdle()
    {
        if (_calls == 0 && _firings == 0)
            _idle.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
