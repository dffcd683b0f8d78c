using System.Collections.Concurrent;
using System.Net.Http.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Batches;

/// <summary>
/// Looks after batches on every node, once per <c>Batches:MonitorInterval</c> (and at once when
/// this node accepts a file): registers validated records as work items, settles records as their
/// items finish, ends batches (completed, partial success, failed) and those past their deadline,
/// delivers completion callbacks until one succeeds, and archives batches after the retention
/// period. Each step is a conditional write, so nodes do not need to agree on who does what.
/// </summary>
internal sealed class BatchMonitor(
    BatchStore store,
    BatchService batches,
    ItemLifecycle lifecycle,
    IHttpClientFactory httpClients,
    IOptions<BatchOptions> options,
    IOptions<ClusterOptions> cluster,
    TimeProvider time,
    ILogger<BatchMonitor> logger) : BackgroundService
{
    public const string HttpClientName = "batch-callbacks";

    /// <summary>A batch whose upload shows no progress for this long is taken for abandoned.</summary>
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromMinutes(10);

    /// <summary>Another node takes over a batch's registration when it has not advanced for this long.</summary>
    private static readonly TimeSpan RegistrationTakeover = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan FirstCallbackRetry = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, byte> _adopted = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _receiving = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>This node is reading the batch's file: others leave it alone until it stalls.</summary>
    public void Receiving(string batchId) => _receiving[batchId] = 0;

    /// <summary>This node accepted the batch's file: it registers its records at once.</summary>
    public void Adopt(string batchId)
    {
        _receiving.TryRemove(batchId, out _);
        _adopted[batchId] = 0;
        _wake.Release();
    }

    /// <summary>The upload ended without a batch to look after.</summary>
    public void Forget(string batchId) => _receiving.TryRemove(batchId, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RoundAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                BatchLog.RoundFailed(logger, ex);
            }
            try
            {
                await _wake.WaitAsync(options.Value.MonitorInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass over every batch with something to do.</summary>
    public async Task RoundAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var batch in await store.ListNeedingAttentionAsync(now, now - options.Value.Retention, cancellationToken))
        {
            switch (batch.Status)
            {
                case BatchStatuses.Validating:
                    if (!_receiving.ContainsKey(batch.Id) && batch.UpdatedAt < now - AbandonedAfter)
                    {
                        await store.FailValidationAsync(batch.Id, "The upload stopped without an end (the node receiving it stopped?).", now, cancellationToken);
                        BatchLog.Abandoned(logger, batch.Id);
                    }
                    break;
                case BatchStatuses.InProgress:
                    await ProgressAsync(batch, cancellationToken);
                    break;
                default:
                    await AfterEndAsync(batch, cancellationToken);
                    break;
            }
        }
    }

    private async Task ProgressAsync(BatchRow batch, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (batch.Deadline is { } deadline && deadline <= now)
        {
            _adopted.TryRemove(batch.Id, out _);
            await batches.ExpireAsync(batch, cancellationToken);
            return;
        }
        if (batch.RegisteredLine < batch.LastLine)
        {
            if (!_adopted.ContainsKey(batch.Id) && batch.UpdatedAt > now - RegistrationTakeover)
                return; // the node that accepted it is registering it
            await batches.RegisterAsync(batch.Id, cancellationToken);
            if (await store.GetAsync(batch.Id, cancellationToken) is not { } current || current.RegisteredLine < current.LastLine)
                return;
            batch = current;
        }
        _adopted.TryRemove(batch.Id, out _);
        var validatedAt = batch.ValidatedAt!.Value;
        // Records settle once, at the end: until then progress is counted live from the items.
        if (await store.AnyItemNotDoneAsync(batch.Id, cancellationToken)
            || await store.CountUnfinishedItemsAsync(batch.Id, validatedAt, cancellationToken) > 0)
        {
            return;
        }
        await store.SettleFinishedAsync(batch.Id, validatedAt, cancellationToken);
        await store.SettleUnlinkedAsync(batch.Id, RecordOutcomes.Failed,
            "The work item was deleted, or re-submitted by another batch, before it finished for this batch.", cancellationToken);
        var counts = await store.CountAsync(batch, cancellationToken);
        var status = counts.Succeeded == counts.Total ? BatchStatuses.Completed
            : counts.Succeeded == 0 ? BatchStatuses.Failed
            : BatchStatuses.PartialSuccess;
        if (await store.CloseAsync(batch.Id, status, time.GetUtcNow(), cancellationToken))
            BatchLog.Finished(logger, batch.Id, status, counts.Succeeded, counts.NotSucceeded, counts.Invalid, counts.Total);
    }

    private async Task AfterEndAsync(BatchRow batch, CancellationToken cancellationToken)
    {
        if (batch.Outcome is null)
        {
            // Cancelled or expired with items still running, or failed in validation: settle, then close.
            if (batch.Status is BatchStatuses.Cancelled or BatchStatuses.Expired)
            {
                await batches.WithdrawPendingAsync(batch, cancellationToken);
                if (batch.ValidatedAt is { } validatedAt)
                {
                    await store.SettleFinishedAsync(batch.Id, validatedAt, cancellationToken);
                    if (await store.CountUnfinishedItemsAsync(batch.Id, validatedAt, cancellationToken) > 0)
                        return;
                }
                await store.SettleUnlinkedAsync(batch.Id, batch.Status == BatchStatuses.Expired ? RecordOutcomes.Expired : RecordOutcomes.Cancelled,
                    "The batch ended before the item ran.", cancellationToken);
            }
            if (await store.CloseAsync(batch.Id, null, time.GetUtcNow(), cancellationToken))
            {
                var counts = await store.CountAsync(batch, cancellationToken);
                BatchLog.Finished(logger, batch.Id, batch.Status, counts.Succeeded, counts.NotSucceeded, counts.Invalid, counts.Total);
            }
            return;
        }
        var now = time.GetUtcNow();
        if (batch is { CallbackUrl: { } url, CallbackDeliveredAt: null, CallbackNextAt: { } due } && due <= now)
        {
            await CallBackAsync(batch, url, cancellationToken);
            return;
        }
        if (batch.FinishedAt is { } finished && finished <= now - options.Value.Retention
            && (batch.CallbackUrl is null || batch.CallbackDeliveredAt is not null))
        {
            foreach (var (dataType, entityId) in await store.ItemsWithTriggersAsync(batch.Id, cluster.Value.SchedulerName, cancellationToken))
                await lifecycle.RemoveTriggerAsync(dataType, entityId, LifecycleEvent.BatchRemoved, cancellationToken);
            if (await store.ArchiveAsync(batch.Id, time.GetUtcNow(), cancellationToken))
                BatchLog.Archived(logger, batch.Id);
        }
    }

    /// <summary>One delivery attempt of the completion callback, claimed so that one node makes it.</summary>
    private async Task CallBackAsync(BatchRow batch, string url, CancellationToken cancellationToken)
    {
        var timeout = options.Value.CallbackTimeout;
        if (!await store.ClaimCallbackAsync(batch, time.GetUtcNow() + timeout + TimeSpan.FromSeconds(30), cancellationToken))
            return;
        var summary = await batches.SummarizeAsync(batch, cancellationToken);
        string? error;
        try
        {
            using var http = httpClients.CreateClient(HttpClientName);
            using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeoutSource.CancelAfter(timeout);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = JsonContent.Create(summary, options: CallbackJson) };
            request.Headers.Add("Idempotency-Key", batch.Id);
            using var response = await http.SendAsync(request, timeoutSource.Token);
            error = response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            error = ex is TaskCanceledException ? $"no answer within {timeout}" : ex.Message;
        }
        var now = time.GetUtcNow();
        var attempt = batch.CallbackAttempts + 1;
        if (error is null)
        {
            await store.CallbackAttemptedAsync(batch.Id, now, null, null, CancellationToken.None);
            BatchLog.CallbackDelivered(logger, batch.Id, url, attempt);
            return;
        }
        var delay = TimeSpan.FromTicks(Math.Min(options.Value.CallbackMaxDelay.Ticks,
            FirstCallbackRetry.Ticks * (1L << Math.Min(batch.CallbackAttempts, 20))));
        await store.CallbackAttemptedAsync(batch.Id, now, error, now + delay, CancellationToken.None);
        BatchLog.CallbackFailed(logger, batch.Id, url, attempt, error, now + delay);
    }

    private static readonly System.Text.Json.JsonSerializerOptions CallbackJson = new(System.Text.Json.JsonSerializerDefaults.Web);

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
