namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// One call the <see cref="HttpRecorder"/> received: which node made it (<see cref="Caller"/>, from
/// the URL the node was configured with), for which item, the <c>BatchScheduler-Fence</c> header
/// (null when absent), when it started and ended, and how it ended.
/// </summary>
public sealed class RecordedCall(long number, string? caller, string? dataType, string entityId, int index, long? fence, DateTimeOffset start)
{
    private readonly Lock _lock = new();
    private DateTimeOffset? _end;
    private bool _aborted;

    /// <summary>1, 2, 3, … in the order the recorder received the calls.</summary>
    public long Number { get; } = number;

    public string? Caller { get; } = caller;

    public string? DataType { get; } = dataType;

    public string EntityId { get; } = entityId;

    /// <summary><c>dataType/entityId</c>, or the entity id alone on the route without a data type.</summary>
    public string Item => DataType is null ? EntityId : $"{DataType}/{EntityId}";

    /// <summary>0 for the item's first call, 1 for its second, …</summary>
    public int Index { get; } = index;

    /// <summary>The request's <c>BatchScheduler-Fence</c> header; null when it had none.</summary>
    public long? Fence { get; } = fence;

    /// <summary>When the recorder received the request.</summary>
    public DateTimeOffset Start { get; } = start;

    /// <summary>What the recorder answers (or would have, had the caller waited).</summary>
    public CallPlan Plan { get; internal set; } = CallPlan.Succeed(TimeSpan.Zero);

    /// <summary>When the recorder answered, or saw the caller abort the request; null while the call is open.</summary>
    public DateTimeOffset? End { get { lock (_lock) return _end; } }

    /// <summary>The caller gave up on the request (cancelled it, or its process died) before the answer.</summary>
    public bool Aborted { get { lock (_lock) return _aborted; } }

    public bool IsOpen => End is null;

    /// <summary>Answered with a 2xx: the caller got a success.</summary>
    public bool Succeeded => End is not null && !Aborted && Plan.Status is >= 200 and < 300;

    /// <summary>Open at <paramref name="at"/>: started before it and not ended by then.</summary>
    public bool IsOpenAt(DateTimeOffset at) => Start < at && (End is not { } end || end > at);

    internal void Finish(DateTimeOffset at, bool aborted)
    {
        lock (_lock)
        {
            if (_end is not null)
                return;
            _end = at;
            _aborted = aborted;
        }
    }

    public override string ToString()
    {
        var end = End;
        var outcome = end is null ? "open" : Aborted ? "aborted by the caller" : $"answered {Plan.Status}";
        return $"call #{Number} of {Item} by {Caller ?? "?"} {Start:HH:mm:ss.fff}–{(end is { } e ? e.ToString("HH:mm:ss.fff") : "…")} "
               + $"({outcome}; planned {Plan}; fence {(Fence is { } f ? f.ToString() : "none")})";
    }
}
