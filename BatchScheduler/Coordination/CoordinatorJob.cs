using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Logging;
using Quartz;

namespace BatchScheduler.Coordination;

/// <summary>
/// The one Quartz job for every data type. Each firing is admitted (<see cref="FiringAdmission"/>:
/// late, expired, waiting for upstream items, out of credits, busy, or started with a fence) and, once
/// started, run and its outcome recorded (<see cref="AttemptOutcomes"/>). Retries, deferrals and
/// dead-letters are moves of the item's own trigger by <see cref="ItemLifecycle"/>, never sleeps.
/// </summary>
internal sealed class CoordinatorJob(
    DataTypeCatalog catalog,
    FiringAdmission admission,
    AttemptOutcomes outcomes,
    ItemLifecycle lifecycle,
    NodeIdentity node,
    RunningItems running,
    TimeProvider time,
    ILogger<CoordinatorJob> logger) : IJob
{
    /// <summary>How long a firing for a data type this node does not know waits before it fires again.</summary>
    internal static readonly TimeSpan UnknownDataTypeRetryDelay = TimeSpan.FromSeconds(30);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        // After a crash Quartz re-runs the job under a recovery trigger of its own group; the item is the
        // one the original trigger stood for (its job data, attempt and due time, come along).
        var key = context is { Recovering: true, RecoveringTriggerKey: { } original } ? original : context.Trigger.Key;
        var (dataTypeName, entityId) = (key.Group, key.Name);
        var firing = FiringData.From(context, time.GetUtcNow());
        using var scope = logger.BeginScope(new Dictionary<string, object>
        {
            ["DataType"] = dataTypeName, ["EntityId"] = entityId, ["Attempt"] = firing.Attempt, ["NodeId"] = node.Id,
        });
        if (!catalog.TryGet(dataTypeName, out var dataType))
        {
            // Nodes configured differently (e.g. mid rolling deploy): leave the item for a node that knows
            // its data type rather than drop a firing that may be its last.
            CoordinatorLog.UnknownDataType(logger, dataTypeName, entityId, firing.Attempt, node.Id);
            await lifecycle.NotNowAsync(dataTypeName, entityId, firing, context.NextFireTimeUtc is null,
                time.GetUtcNow() + UnknownDataTypeRetryDelay, CancellationToken.None);
            return;
        }
        // Quartz's overlap policy keeps a trigger from firing while it runs; this claim also covers a
        // recovery firing, which runs under a trigger of its own.
        var claim = running.TryClaim(dataTypeName, entityId, cancellationToken);
        if (claim is null)
        {
            await admission.SkipBusyAsync(context, dataTypeName, entityId, firing, node.Id);
            return;
        }
        var handedToWriter = false;
        try
        {
            if (await admission.AdmitAsync(context, dataType, entityId, firing) is { } admitted)
                handedToWriter = await outcomes.RunAsync(dataType, admitted, claim);
        }
        finally
        {
            // A success's claim is released by the writer once its updates_end is written.
            if (!handedToWriter)
                running.Release(dataTypeName, entityId);
        }
    }
}
