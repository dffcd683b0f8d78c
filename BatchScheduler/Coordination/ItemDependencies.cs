using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Coordination;

/// <summary>
/// <c>DataTypes:&lt;x&gt;:DependsOn</c> at run time: an item of a dependent data type runs only after
/// the item of each data type it depends on, for the same entity, has completed since the dependent
/// item last started (or at all, before its first run).
/// </summary>
/// <remarks>
/// <para>
/// Checked when the dependent item fires, so it never runs before its upstream items, whatever
/// armed it. One that may not run yet is <c>deferred</c> ("Waiting for …", no attempt counted) with a
/// one-off trigger <see cref="Recheck"/> later as a safety net. What actually starts it is its upstream
/// item completing: once that completion is written, the dependent item of the same entity is armed to
/// run now if all its upstream items are then ready. After that run a recurring item goes back to its
/// tier's cadence; the check at each firing keeps it from running again before its upstream items
/// complete again. A dependent item that was running when an upstream item completed is armed again
/// when it finishes, so it catches up with the newer upstream result.
/// </para>
/// <para>
/// Settings with an unknown name or a cycle in <c>DependsOn</c> stop the node at start.
/// </para>
/// </remarks>
internal sealed partial class ItemDependencies(
    IOptions<DataTypesOptions> options, WorkItemStore store, DataTypeCatalog catalog, ItemLifecycle lifecycle, ILogger<ItemDependencies> logger)
{
    /// <summary>How long a waiting item's safety-net trigger waits before it checks again by itself.</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromHours(1);

    private readonly Lazy<Dictionary<string, string[]>> _upstreams = new(() =>
        options.Value.Items.ToDictionary(d => d.Key, d => d.Value.DependsOn.Distinct(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal));

    private readonly Lazy<Dictionary<string, string[]>> _dependents = new(() =>
        options.Value.Items
            .SelectMany(d => d.Value.DependsOn.Select(u => (Upstream: u, Dependent: d.Key)))
            .GroupBy(p => p.Upstream, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(p => p.Dependent).Distinct(StringComparer.Ordinal).ToArray(), StringComparer.Ordinal));

    public IReadOnlyList<string> UpstreamsOf(string dataType) => _upstreams.Value.GetValueOrDefault(dataType) ?? [];

    public IReadOnlyList<string> DependentsOf(string dataType) => _dependents.Value.GetValueOrDefault(dataType) ?? [];

    /// <summary>
    /// The upstream data types whose item for <paramref name="entityId"/> has not completed since
    /// <paramref name="lastStart"/> (or ever, when null); empty when the item may run.
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitingForAsync(string dataType, string entityId, DateTimeOffset? lastStart, CancellationToken cancellationToken)
    {
        var waiting = new List<string>();
        foreach (var upstream in UpstreamsOf(dataType))
        {
            var item = await store.GetAsync(upstream, entityId, cancellationToken);
            if (item?.UpdatesEnd is not { } end || (lastStart is { } start && end <= start))
                waiting.Add(upstream);
        }
        return waiting;
    }

    /// <summary>After the item (<paramref name="dataType"/>, <paramref name="entityId"/>) completed and its end is written: arms what may run now.</summary>
    /// <param name="dataType">The data type of the item that completed.</param>
    /// <param name="entityId">The entity.</param>
    /// <param name="started">When the completed run started.</param>
    public async Task CompletedAsync(string dataType, string entityId, DateTimeOffset started)
    {
        try
        {
            foreach (var dependent in DependentsOf(dataType))
                await ArmIfReadyAsync(dependent, entityId, lastStart: null);
            // A run that started before its upstream items completed again runs once more.
            if (UpstreamsOf(dataType).Count > 0)
                await ArmIfReadyAsync(dataType, entityId, lastStart: started);
        }
#pragma warning disable CA1031 // the dependent item keeps its safety-net trigger; this must not fail the completion
        catch (Exception e)
#pragma warning restore CA1031
        {
            ArmingFailed(logger, dataType, entityId, e.Message);
        }
    }

    private async Task ArmIfReadyAsync(string dataType, string entityId, DateTimeOffset? lastStart)
    {
        if (!catalog.TryGet(dataType, out var definition))
            return;
        // Decided and armed under the item's lock: a deferral of the item taken meanwhile ("waiting for …")
        // keeps this arm rather than replacing it (see ItemLifecycle).
        if (await lifecycle.ArmUpstreamAsync(definition, entityId,
                async row => (await WaitingForAsync(dataType, entityId, lastStart ?? row.UpdatesStart, CancellationToken.None)).Count == 0,
                CancellationToken.None))
            Armed(logger, dataType, entityId);
    }

    [LoggerMessage(1014, LogLevel.Debug, "Upstream items of {DataType}/{EntityId} completed: armed to run now")]
    private static partial void Armed(ILogger logger, string dataType, string entityId);

    [LoggerMessage(1015, LogLevel.Warning, "Could not arm the dependents of {DataType}/{EntityId} after it completed ({Reason}); they run at their next check")]
    private static partial void ArmingFailed(ILogger logger, string dataType, string entityId, string reason);
}
