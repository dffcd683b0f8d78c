using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Coordination;

/// <summary>
/// Cancels the attempts this node no longer owns, so that the overlap a lost node cannot prevent (its
/// executor calls already under way) ends as soon as it can know. Two signs, checked every check-in
/// interval: the item's fence moved on (another node started it: this node was declared dead, or
/// partitioned), and a pause of this process (a long GC, a VM stall, SIGSTOP) longer than the cluster's
/// failover time, after which any of its items may have been recovered elsewhere. The attempts' own writes
/// are fenced, so none lands either way; this stops the work itself.
/// </summary>
internal sealed partial class AttemptLeaseWatch(
    RunningItems running, ConnectionFactory connections, IOptions<ClusterOptions> cluster, NodeIdentity node, TimeProvider time,
    ILogger<AttemptLeaseWatch> logger) : BackgroundService
{
    /// <summary>Quartz declares a node dead once its check-in is this much older than its interval (7.5 s).</summary>
    private static readonly TimeSpan QuartzFailoverMargin = TimeSpan.FromMilliseconds(7500);

    private readonly TimeSpan _interval = cluster.Value.CheckinInterval < TimeSpan.FromSeconds(1) ? cluster.Value.CheckinInterval : TimeSpan.FromSeconds(1);
    private readonly TimeSpan _failover = cluster.Value.CheckinInterval + QuartzFailoverMargin;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // Two loops: a pause is measured on a timer that does nothing else. Measured across the
            // database checks too, a check that waited on a busy database (seconds, at 1,000 slots on a
            // loaded machine) was taken for a pause of the process, and every running attempt was cancelled.
            // Whichever loop ends first (a failure) stops the other, and its failure stops the host as one loop's did.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            Task[] loops = [WatchForPausesAsync(stop.Token), CheckAttemptsAsync(stop.Token)];
            await Task.WhenAny(loops);
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping (also when another service failed to start, e.g. on a busy port): not a crash to report.
        }
    }

    /// <summary>A tick that comes this much later than asked, the process stood still (a long GC, a VM stall, SIGSTOP).</summary>
    private async Task WatchForPausesAsync(CancellationToken stoppingToken)
    {
        var last = time.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(_interval, time, stoppingToken);
            var now = time.GetTimestamp();
            var gap = time.GetElapsedTime(last, now);
            last = now;
            if (gap > _failover && running.Count > 0)
            {
                var reason = $"Cancelled: this node was paused for {gap.TotalSeconds:0.0} s, past the cluster's failover time of {_failover.TotalSeconds:0.0} s; another node may have taken the item over";
                Paused(logger, node.Id, gap.TotalSeconds, running.Count);
                running.CancelAll(reason);
            }
        }
    }

    /// <summary>Operators' cancel requests every interval, superseded attempts every check-in interval.</summary>
    private async Task CheckAttemptsAsync(CancellationToken stoppingToken)
    {
        var last = time.GetTimestamp();
        var sinceCheck = TimeSpan.Zero;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(_interval, time, stoppingToken);
            var now = time.GetTimestamp();
            sinceCheck += time.GetElapsedTime(last, now);
            last = now;
            if (running.Count > 0)
            {
                try
                {
                    await CancelAskedAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException)
                {
                    AttemptControlLog.CancelCheckFailed(logger, node.Id, ex.Message);
                }
            }
            if (sinceCheck < cluster.Value.CheckinInterval)
                continue;
            sinceCheck = TimeSpan.Zero;
            try
            {
                await CancelSupersededAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException)
            {
                CheckFailed(logger, node.Id, ex.Message); // a database outage: the attempts' writes are fenced anyway
            }
        }
    }

    /// <summary>
    /// Cancels the running attempts an operator asked to cancel (<c>work_items.cancel_fence</c>, read through a
    /// partial index of the few rows that have one), and clears requests whose attempt no longer runs (it ended
    /// before the request was read). Returns how many it cancelled.
    /// </summary>
    internal async Task<int> CancelAskedAsync(CancellationToken cancellationToken)
    {
        var asked = new List<(string DataType, string EntityId, long Fence, string By, string? Reason)>();
        await using var connection = await connections.OpenAsync(cancellationToken);
        await using (var command = connection.Command(
            "SELECT data_type, entity_id, cancel_fence, cancel_by, cancel_reason FROM work_items WHERE node_id = @node AND cancel_fence IS NOT NULL")
            .With("@node", node.Id))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
                asked.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.Get<string>("cancel_by") ?? "unknown", reader.Get<string>("cancel_reason")));
        }
        var cancelled = 0;
        foreach (var (dataType, entityId, fence, by, reason) in asked)
        {
            if (running.Runs(dataType, entityId, fence))
            {
                var cancel = Lifecycle.ItemLifecycle.OperatorCancel(by, reason);
                if (running.Cancel(dataType, entityId, fence, cancel))
                {
                    cancelled++;
                    AttemptControlLog.Cancelling(logger, dataType, entityId, fence, node.Id, cancel.Reason);
                }
                continue;
            }
            // Its attempt ended before the request was read (or the item started again since): nothing to stop.
            await using var clear = connection.Command(
                """
                UPDATE work_items SET cancel_fence = NULL, cancel_by = NULL, cancel_reason = NULL
                WHERE data_type = @dataType AND entity_id = @entityId AND cancel_fence = @fence AND (fence <> @fence OR state <> @inFlight)
                """).With("@dataType", dataType).With("@entityId", entityId).With("@fence", fence).With("@inFlight", WorkItems.WorkItemStates.InFlight);
            await clear.ExecuteNonQueryAsync(cancellationToken);
        }
        return cancelled;
    }

    /// <summary>Cancels every running attempt whose item has a newer fence than the attempt's.</summary>
    internal async Task<int> CancelSupersededAsync(CancellationToken cancellationToken)
    {
        var claims = running.Started();
        if (claims.Count == 0)
            return 0;
        var cancelled = 0;
        await using var connection = await connections.OpenAsync(cancellationToken);
        foreach (var group in claims.GroupBy(c => c.DataType))
        {
            foreach (var chunk in group.Chunk(500))
            {
                await using var command = connection.Command(
                    $"SELECT entity_id, fence FROM work_items WHERE data_type = @dataType AND entity_id IN ({string.Join(", ", chunk.Select((_, i) => $"@e{i}"))})")
                    .With("@dataType", group.Key);
                for (var i = 0; i < chunk.Length; i++)
                    command.With($"@e{i}", chunk[i].EntityId);
                var fences = new Dictionary<string, long>(StringComparer.Ordinal);
                await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                {
                    while (await reader.ReadAsync(cancellationToken))
                        fences[reader.GetString(0)] = reader.GetInt64(1);
                }
                foreach (var claim in chunk)
                {
                    if (fences.TryGetValue(claim.EntityId, out var fence) && claim.Fence is { } own && fence != own
                        && running.Cancel(claim.DataType, claim.EntityId, own,
                            $"Cancelled: the item was started again elsewhere (fence {fence}) while this attempt (fence {own}) ran; this node had lost it"))
                    {
                        cancelled++;
                        Superseded(logger, claim.DataType, claim.EntityId, own, fence, node.Id);
                    }
                }
            }
        }
        return cancelled;
    }

    [LoggerMessage(1902, LogLevel.Warning, "Node {NodeId} was paused for {Seconds:0.0} s, past its failover time: cancelling its {Count} running attempts")]
    private static partial void Paused(ILogger logger, string nodeId, double seconds, int count);

    [LoggerMessage(1903, LogLevel.Warning, "Cancelling {DataType}/{EntityId} (fence {Fence}) on {NodeId}: the item started again elsewhere (fence {CurrentFence})")]
    private static partial void Superseded(ILogger logger, string dataType, string entityId, long fence, long currentFence, string nodeId);

    [LoggerMessage(1904, LogLevel.Warning, "Could not check the fences of running attempts on {NodeId}: {Reason}")]
    private static partial void CheckFailed(ILogger logger, string nodeId, string reason);
}
