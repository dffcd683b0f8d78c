using System.Text;
using BatchScheduler.Api;
using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Batches;

/// <summary>
/// Takes in batch files and moves batches through their lifecycle. Every step is a conditional
/// write, so any node may take any step and two nodes taking the same one do no harm.
/// </summary>
internal sealed class BatchService(
    BatchStore store,
    WorkItemService items,
    ItemLifecycle lifecycle,
    DataTypeCatalog catalog,
    IOptions<BatchOptions> options,
    TimeProvider time,
    ILogger<BatchService> logger)
{
    /// <summary>Records written per round trip while a file is read, and registered per round.</summary>
    private const int RecordsPerWrite = 2000;
    private const int RecordsPerRegistration = 5000;

    /// <summary>
    /// Reads the file record by record, storing each (valid, or invalid with its line and reason),
    /// and ends validation. Nothing runs before the whole file has been read; the caller then
    /// registers the valid records (<see cref="RegisterAsync"/>), or any node's monitor does.
    /// </summary>
    public async Task<BatchRow> SubmitAsync(
        string id, DataTypeDefinition dataType, BatchFormat format, string contentType, Stream body,
        DateTimeOffset? deadline, string? callbackUrl, CancellationToken cancellationToken)
    {
        await store.CreateAsync(id, dataType.Name, contentType, deadline, callbackUrl, time.GetUtcNow(), cancellationToken);
        BatchLog.Received(logger, id, dataType.Name, contentType);
        var counting = new CountingStream(body);
        var firstLines = new Dictionary<(string DataType, string EntityId), long>();
        var buffer = new List<BatchRecordRow>(RecordsPerWrite);
        int total = 0, invalid = 0;
        try
        {
            var limits = new BatchFileLimits(options.Value.MaxRecordBytes);
            await foreach (var entry in BatchFileReader.ReadAsync(counting, format, limits, cancellationToken))
            {
                total++;
                var row = Check(dataType, entry, firstLines, deadline);
                if (row.Outcome is not null)
                    invalid++;
                buffer.Add(row);
                if (buffer.Count >= RecordsPerWrite)
                {
                    await FlushAsync(id, buffer, counting.BytesRead, cancellationToken);
                    buffer.Clear();
                }
            }
            if (buffer.Count > 0)
                await FlushAsync(id, buffer, counting.BytesRead, cancellationToken);
        }
        catch (Exception ex) when (ex is BatchFileException or IOException or OperationCanceledException)
        {
            var reason = ex switch
            {
                BatchFileException => ex.Message,
                _ => $"The upload ended early after {counting.BytesRead:N0} bytes ({total:N0} records): {ex.Message}",
            };
            await store.FailValidationAsync(id, reason, time.GetUtcNow(), CancellationToken.None);
            BatchLog.Rejected(logger, id, reason);
            throw new BatchRejectedException(id, reason, ex);
        }
        catch (Exception ex)
        {
            // Not the file's fault: the batch still ends now, saying what stopped it, rather than
            // waiting in validating until a monitor takes it for abandoned.
            var reason = $"Reading the upload stopped after {counting.BytesRead:N0} bytes ({total:N0} records) on an error in the node: {ex.GetType().Name}: {ex.Message}";
            await store.FailValidationAsync(id, reason, time.GetUtcNow(), CancellationToken.None);
            BatchLog.UploadFailed(logger, id, reason, ex);
            throw new BatchUploadFailedException(id, reason, ex);
        }
        await store.FinishValidationAsync(id, total, invalid, counting.BytesRead, time.GetUtcNow(), cancellationToken);
        BatchLog.Validated(logger, id, total, invalid, counting.BytesRead);
        return (await store.GetAsync(id, cancellationToken))!;
    }

    private async Task FlushAsync(string id, List<BatchRecordRow> rows, long bytes, CancellationToken cancellationToken)
    {
        if (!await store.AddRecordsAsync(id, rows, bytes, time.GetUtcNow(), cancellationToken))
            throw new BatchFileException("The batch stopped validating while its file was read (cancelled, or declared failed by another node).");
    }

    /// <summary>A record as stored: valid, or invalid with the reason (line numbers come from the reader).</summary>
    private BatchRecordRow Check(DataTypeDefinition batchType, BatchFileEntry entry, Dictionary<(string, string), long> firstLines, DateTimeOffset? deadline)
    {
        // An invalid record's fields and reason are echoed as they came, so they are made storable first.
        BatchRecordRow Invalid(string reason) =>
            new(entry.Line, Storable(Truncate(entry.EntityId)), entry.DataType is { } d ? Storable(Truncate(d)) : batchType.Name, null, null,
                RecordOutcomes.Invalid, Storable(reason));
        if (entry.Error is { } error)
            return Invalid(error);
        var dataType = batchType;
        if (TextRules.RejectText(entry.DataType, BatchRecord.DataType, TextRules.MaxDataTypeLength) is { } typeError)
            return Invalid(typeError);
        if (entry.DataType is { } named && named != batchType.Name && !catalog.TryGet(named, out dataType))
            return Invalid(catalog.Unknown(named));
        if (TextRules.RejectEntityId(entry.EntityId, BatchRecord.EntityId) is { } idError)
            return Invalid(idError);
        var tier = string.IsNullOrWhiteSpace(entry.Tier) ? dataType.DefaultTier : entry.Tier;
        if (TextRules.RejectName(tier, BatchRecord.Tier, TextRules.MaxTierLength) is { } tierText)
            return Invalid(tierText);
        if (dataType.RejectTier(tier) is { } tierError)
            return Invalid($"tier: {tierError}");
        if (entry.Payload is { Length: > WorkItemInput.MaxPayloadChars } payload)
            return Invalid($"The payload is {payload.Length} characters of JSON; the limit is {WorkItemInput.MaxPayloadChars}.");
        if (entry.Payload is { } json && TextRules.RejectJson(Encoding.UTF8.GetBytes(json), "payload") is { } payloadError)
            return Invalid(payloadError);
        var (runAt, runAtError) = RunAtText.Read(entry.RunAt, BatchRecord.RunAt, time.GetUtcNow());
        if (runAtError is not null)
            return Invalid(runAtError);
        // The batch withdraws what has not run by its deadline: a record due at or after it could never run.
        if (runAt >= deadline)
            return Invalid($"{BatchRecord.RunAt} {entry.RunAt!.Trim()} is not before the batch's deadline {deadline:yyyy-MM-dd'T'HH:mm:ss'Z'}: the item could never run in this batch.");
        if (!firstLines.TryAdd((dataType.Name, entry.EntityId!), entry.Line))
            return Invalid($"Duplicate entity id '{entry.EntityId}': already on line {firstLines[(dataType.Name, entry.EntityId!)]} of this file.");
        return new BatchRecordRow(entry.Line, entry.EntityId, dataType.Name, tier, entry.Payload, null, null, runAt);
    }

    /// <summary>A value of an invalid record as it can be stored and shown: text by the rule, at most 200 characters.</summary>
    private static string? Truncate(string? value) => value is null ? null : TextRules.Storable(value is { Length: > 200 } ? value[..200] : value);

    /// <summary>
    /// The text with control characters and lone surrogates written as <c>\uXXXX</c>: PostgreSQL refuses NUL in
    /// text, and no JSON answer can carry a lone surrogate, so an echo of a record that was invalid for holding
    /// them must not hold them itself (one such record failed the whole upload).
    /// </summary>
    private static string? Storable(string? text)
    {
        if (text is null || !text.Any(c => char.IsControl(c) || char.IsSurrogate(c)))
            return text;
        var result = new System.Text.StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                result.Append(c).Append(text[++i]);
            else if (char.IsControl(c) || char.IsSurrogate(c))
                result.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            else
                result.Append(c);
        }
        return result.ToString();
    }

    /// <summary>
    /// Registers the batch's valid records as work items, each due now (or at its runAt), from where registration
    /// stopped; each round moves the batch's mark only if no other node moved it meanwhile.
    /// Stops when the batch is no longer in progress (cancelled, expired).
    /// </summary>
    public async Task RegisterAsync(string id, CancellationToken cancellationToken)
    {
        while (await store.GetAsync(id, cancellationToken) is { Status: BatchStatuses.InProgress } batch)
        {
            var records = await store.RecordsToRegisterAsync(id, batch.RegisteredLine, RecordsPerRegistration, cancellationToken);
            if (records.Count == 0)
            {
                // Only invalid records (or none) after the mark: registration is complete.
                if (batch.RegisteredLine < batch.LastLine)
                    await store.AdvanceRegisteredAsync(id, batch.RegisteredLine, batch.LastLine, time.GetUtcNow(), cancellationToken);
                return;
            }
            foreach (var group in records.GroupBy(r => r.DataType!))
            {
                if (!catalog.TryGet(group.Key, out var dataType))
                    continue; // its configuration went away since validation: the record ends unlinked, failed
                await items.RegisterBatchItemsAsync(dataType,
                    group.Select(r => new WorkItemRegistration(r.EntityId!, r.Tier, r.Payload, id, r.RunAt)).ToList(), cancellationToken);
            }
            var last = records[^1].Line;
            if (!await store.AdvanceRegisteredAsync(id, batch.RegisteredLine, last, time.GetUtcNow(), cancellationToken))
                return; // another node is registering this batch
            BatchLog.Registered(logger, id, records.Count, last);
        }
    }

    /// <summary>Cancels an active batch: pending items are removed, running ones finish. False when it had already ended.</summary>
    public async Task<bool> CancelAsync(string id, CancellationToken cancellationToken)
    {
        if (!await store.FinishAsync(id, BatchStatuses.Cancelled, time.GetUtcNow(), cancellationToken))
            return false;
        BatchLog.Cancelled(logger, id);
        if (await store.GetAsync(id, cancellationToken) is { } batch)
            await WithdrawPendingAsync(batch, cancellationToken);
        return true;
    }

    /// <summary>Ends a batch whose deadline has passed: what has not run is marked expired and removed.</summary>
    public async Task<bool> ExpireAsync(BatchRow batch, CancellationToken cancellationToken)
    {
        if (!await store.FinishAsync(batch.Id, BatchStatuses.Expired, time.GetUtcNow(), cancellationToken))
            return false;
        BatchLog.Expired(logger, batch.Id, batch.Deadline!.Value);
        await WithdrawPendingAsync((await store.GetAsync(batch.Id, cancellationToken))!, cancellationToken);
        return true;
    }

    /// <summary>
    /// For a cancelled or expired batch: removes the trigger and row of each item the batch created
    /// and has not started, unlinks items that existed before it, and marks those records cancelled
    /// or expired. Items already running stay linked; their records settle when they finish.
    /// Safe to repeat.
    /// </summary>
    public async Task WithdrawPendingAsync(BatchRow batch, CancellationToken cancellationToken)
    {
        var (outcome, reason) = batch.Status == BatchStatuses.Expired
            ? (RecordOutcomes.Expired, $"The batch's deadline ({batch.Deadline:u}) passed before the item ran.")
            : (RecordOutcomes.Cancelled, "The batch was cancelled before the item ran.");
        if (batch.ValidatedAt is { } validatedAt)
        {
            var pending = await store.PendingItemsAsync(batch.Id, validatedAt, cancellationToken);
            foreach (var item in pending)
            {
                if (item.CreatedByBatch)
                    await lifecycle.RemoveTriggerAsync(item.DataType, item.EntityId, LifecycleEvent.BatchRemoved, cancellationToken);
                if (!await store.DetachPendingItemAsync(batch.Id, item.DataType, item.EntityId, item.CreatedByBatch, cancellationToken)
                    && item.CreatedByBatch)
                {
                    BatchLog.StartedWhileWithdrawn(logger, batch.Id, item.DataType, item.EntityId);
                }
            }
        }
        await store.SettleUnlinkedAsync(batch.Id, outcome, reason, cancellationToken);
    }

    /// <summary>The summary <c>GET /api/batches/{id}</c> shows.</summary>
    public async Task<BatchSummary> SummarizeAsync(BatchRow batch, CancellationToken cancellationToken)
    {
        var counts = await store.CountAsync(batch, cancellationToken);
        return new BatchSummary(batch.Id, batch.DataType, batch.Status, batch.Outcome ?? (BatchStatuses.IsActive(batch.Status) ? null : batch.Status),
            counts.Total, counts.Succeeded, counts.NotSucceeded, counts.Invalid, counts.Pending, counts.Expired, counts.Cancelled,
            batch.CreatedAt, batch.ValidatedAt, batch.FinishedAt, batch.Deadline, batch.Error);
    }

    /// <summary>Counts the bytes read from the request body, for the audit and for error messages.</summary>
    private sealed class CountingStream(Stream inner) : ReadOnlyStream
    {
        public long BytesRead { get; private set; }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            BytesRead += n;
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken);
            BytesRead += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    }
}

/// <summary>An upload that stopped on an error of the node (not of the file); the batch has failed with <see cref="Exception.Message"/> as its reason.</summary>
internal sealed class BatchUploadFailedException(string batchId, string reason, Exception inner) : Exception(reason, inner)
{
    public string BatchId { get; } = batchId;
}

/// <summary>A file the batch could not take at all (its validation failed as a whole); the batch row says why.</summary>
internal sealed class BatchRejectedException(string batchId, string reason, Exception inner) : Exception(reason, inner)
{
    public string BatchId { get; } = batchId;
}
