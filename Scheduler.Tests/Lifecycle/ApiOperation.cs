namespace BatchScheduler.Tests.Lifecycle;

internal enum OperationKind
{
    RunNow,
    Put,
    Delete,
    Get,
}

/// <summary>
/// One call of the public API the test made: what, on which item, through which node, when it was
/// sent and answered, the status (-1: no answer), the tier a PUT sent and the state a GET read.
/// </summary>
internal sealed record ApiOperation(
    OperationKind Kind, string Item, string Node, DateTimeOffset Sent, DateTimeOffset Answered, int Status,
    string? Tier = null, string? State = null)
{
    /// <summary>A PUT that moved the item to tier <c>exclude</c>, answered 200.</summary>
    public bool IsExclusion => Kind == OperationKind.Put && Tier == ChaosScenario.Exclude && Status == 200;

    /// <summary>A PUT or DELETE: it may re-arm, remove or re-tier the item's trigger.</summary>
    public bool MovesItem => Kind is OperationKind.Put or OperationKind.Delete;

    public override string ToString() =>
        $"{Kind}{(Tier is null ? "" : $" tier {Tier}")} {Item} via {Node} sent {Sent:HH:mm:ss.fff} answered {Answered:HH:mm:ss.fff} {Status}"
        + (State is null ? "" : $" state {State}");
}
