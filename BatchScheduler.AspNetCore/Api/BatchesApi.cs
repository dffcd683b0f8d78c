using System.Globalization;
using System.Runtime.CompilerServices;
using BatchScheduler.Batches;
using BatchScheduler.Outbound;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace BatchScheduler.Api;

/// <summary>The <c>/api/batches</c> routes: files in, results, errors and audit out.</summary>
internal static class BatchesApi
{
    private const int OutputPage = 5000;
    private const int MaxPageSize = 100;
    private const int DefaultPageSize = 20;

    public static RouteGroupBuilder MapBatchesApi(this RouteGroupBuilder api)
    {
        var batches = api.MapGroup("/batches").WithTags("Batches");
        batches.MapPost("/", SubmitAsync).RequireAuthorization(ApiPolicies.Admin).WithName("submitBatch")
            .WithSummary("Submit a batch file")
            .WithDescription("The file is the body: .jsonl as application/x-ndjson or .csv as text/csv, one record per line with an entityId "
                + "field or column, an optional tier, dataType and runAt (ISO 8601 with an offset: the item runs not before it; it must be before the deadline); "
                + "the rest is the payload. Records are validated one by one; invalid ones go to the error file.")
            .DescribesFileBody("application/x-ndjson", "text/csv")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        batches.MapGet("/", ListAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("listBatches")
            .WithSummary("List batches, newest first")
            .ProducesProblem(StatusCodes.Status400BadRequest);
        batches.MapGet("/{id}", GetAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("getBatch")
            .WithSummary("Get a batch's summary")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        batches.MapGet("/{id}/results", ResultsAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("getBatchResults")
            .WithSummary("The result file: records that succeeded, in line order")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        batches.MapGet("/{id}/errors", ErrorsAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("getBatchErrors")
            .WithSummary("The error file: invalid, failed, expired and cancelled records with the reason")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        batches.MapGet("/{id}/audit", AuditAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("getBatchAudit")
            .WithSummary("The audit log: parameters, timings, item states and the verification input = succeeded + failed + invalid")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        batches.MapPost("/{id}/cancel", CancelAsync).RequireAuthorization(ApiPolicies.Admin).WithName("cancelBatch")
            .WithSummary("Cancel a validating or in-progress batch")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return api;
    }

    private static async Task<Results<Created<BatchSummary>, ProblemHttpResult>> SubmitAsync(
        HttpContext context, BatchService service, BatchMonitor monitor, DataTypeCatalog catalog, OutboundPolicy outbound, TimeProvider time,
        CancellationToken cancellationToken,
        [QueryText("The configured data type of the file's records (required).")] string? dataType = null,
        [QueryInstant("An ISO 8601 instant in the future: when it passes, the batch ends expired and its items that have not started are withdrawn.")] string? deadline = null,
        [QueryText("An http or https URL the batch summary is POSTed to once its outcome is set (the Outbound settings must allow it).", Format = "uri")] string? callbackUrl = null)
    {
        if (string.IsNullOrWhiteSpace(dataType))
            return ApiProblems.BadRequest("dataType is missing; name the data type of the file's records (?dataType=x).");
        if (TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength) is { } typeError)
            return ApiProblems.BadRequest(typeError);
        if (!catalog.TryGet(dataType, out var definition))
            return ApiProblems.BadRequest(catalog.Unknown(dataType));
        var contentType = context.Request.ContentType;
        if (BatchFileReader.FormatOf(contentType) is not { } format)
        {
            return TypedResults.Problem(
                $"Content-Type '{contentType}' is not a batch file; send .jsonl as application/x-ndjson or .csv as text/csv.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
        }
        var now = time.GetUtcNow();
        DateTimeOffset? due = null;
        if (deadline is not null)
        {
            if (!DateTimeOffset.TryParse(deadline, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
                return ApiProblems.BadRequest($"deadline must be an ISO 8601 instant such as 2026-11-23T18:00:00Z (was '{deadline}').");
            if (parsed <= now)
                return ApiProblems.BadRequest($"deadline {parsed:u} has passed already.");
            due = parsed.ToUniversalTime();
        }
        if (callbackUrl is not null && outbound.Refusal(callbackUrl) is { } refusal)
        {
            return ApiProblems.BadRequest($"callbackUrl '{callbackUrl}' is refused: {refusal}. It must be an absolute http or https URL "
                + "to a host the node's outbound policy allows (never link-local or cloud metadata addresses).");
        }

        // A file larger than memory streams through; the size limit is per record (Batches:MaxRecordBytes).
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            bodySize.MaxRequestBodySize = null;
        var id = Guid.CreateVersion7(now).ToString("N");
        Audit.AuditNotes.Record(context, target: $"batches/{id}", detail: $"data type {dataType}");
        monitor.Receiving(id);
        BatchRow batch;
        try
        {
            batch = await service.SubmitAsync(id, definition, format, contentType!, context.Request.Body, due, callbackUrl, cancellationToken);
            Audit.AuditNotes.Record(context, batch.Total, $"batches/{id}", $"data type {dataType}, {batch.Invalid} invalid records");
            if (batch.Status == BatchStatuses.InProgress)
                monitor.Adopt(id);
        }
        catch (BatchRejectedException ex)
        {
            return TypedResults.Problem($"Batch {ex.BatchId} failed: {ex.Message}", statusCode: StatusCodes.Status400BadRequest,
                title: "Bad request", extensions: new Dictionary<string, object?> { ["batchId"] = ex.BatchId });
        }
        catch (BatchUploadFailedException ex)
        {
            // Logged with its exception where it happened; the batch row says the same.
            return TypedResults.Problem($"Batch {ex.BatchId} failed: {ex.Message}", statusCode: StatusCodes.Status500InternalServerError,
                title: "Internal server error", extensions: new Dictionary<string, object?> { ["batchId"] = ex.BatchId });
        }
        finally
        {
            monitor.Forget(id); // however the upload ended, this node no longer reads it
        }
        return TypedResults.Created($"/api/batches/{id}", await service.SummarizeAsync(batch, cancellationToken));
    }

    private static async Task<Results<Ok<BatchPage>, ProblemHttpResult>> ListAsync(
        BatchStore store, BatchService service, CancellationToken cancellationToken,
        [QueryOneOf(typeof(BatchStatuses), "Only batches in this status.")] string? status = null,
        [QueryInteger(1, WorkItemInput.MaxPage, 1, "Page number.")] string? page = null,
        [QueryInteger(1, MaxPageSize, DefaultPageSize, "Batches per page.")] string? pageSize = null)
    {
        if (status is not null && !BatchStatuses.All.Contains(status))
            return ApiProblems.BadRequest($"Unknown status '{status}'; statuses are: {string.Join(", ", BatchStatuses.All)}.");
        if (!RequestValues.TryInt(page, "page", 1, 1, WorkItemInput.MaxPage, out var pageNumber, out var error)
            || !RequestValues.TryInt(pageSize, "pageSize", DefaultPageSize, 1, MaxPageSize, out var size, out error))
        {
            return ApiProblems.BadRequest(error!);
        }
        var rows = await store.ListAsync(status, pageNumber, size, cancellationToken);
        var summaries = new List<BatchSummary>(rows.Count);
        foreach (var row in rows)
            summaries.Add(await service.SummarizeAsync(row, cancellationToken));
        return TypedResults.Ok(new BatchPage(summaries, pageNumber, size));
    }

    private static async Task<Results<Ok<BatchSummary>, ProblemHttpResult>> GetAsync(
        string id, BatchStore store, BatchService service, CancellationToken cancellationToken) =>
        RejectId(id) is { } idError ? ApiProblems.BadRequest(idError)
        : await store.GetAsync(id, cancellationToken) is { } batch
            ? TypedResults.Ok(await service.SummarizeAsync(batch, cancellationToken))
            : ApiProblems.NotFound(NoSuchBatch(id));

    private static async Task<Results<Ok<IAsyncEnumerable<BatchResult>>, ProblemHttpResult>> ResultsAsync(
        string id, BatchStore store, CancellationToken cancellationToken) =>
        RejectId(id) is { } idError ? ApiProblems.BadRequest(idError)
        : await store.GetAsync(id, cancellationToken) is { } batch
            ? TypedResults.Ok(Outputs(store, batch, cancellationToken)
                .Where(r => r.Outcome == RecordOutcomes.Succeeded)
                .Select(r => new BatchResult(r.Line, r.EntityId!, r.DataType!)))
            : ApiProblems.NotFound(NoSuchBatch(id));

    private static async Task<Results<Ok<IAsyncEnumerable<BatchError>>, ProblemHttpResult>> ErrorsAsync(
        string id, BatchStore store, CancellationToken cancellationToken) =>
        RejectId(id) is { } idError ? ApiProblems.BadRequest(idError)
        : await store.GetAsync(id, cancellationToken) is { } batch
            ? TypedResults.Ok(Outputs(store, batch, cancellationToken)
                .Where(r => r.Outcome is not (RecordOutcomes.Succeeded or ""))
                .Select(r => new BatchError(r.Line, r.EntityId, r.DataType, r.Outcome, r.Reason)))
            : ApiProblems.NotFound(NoSuchBatch(id));

    private static async Task<Results<Ok<BatchAudit>, ProblemHttpResult>> AuditAsync(
        string id, BatchStore store, BatchService service, CancellationToken cancellationToken)
    {
        if (RejectId(id) is { } idError)
            return ApiProblems.BadRequest(idError);
        if (await store.GetAsync(id, cancellationToken) is not { } batch)
            return ApiProblems.NotFound(NoSuchBatch(id));
        var summary = await service.SummarizeAsync(batch, cancellationToken);
        var states = await store.ItemStatesAsync(id, cancellationToken);

        // Verification by id: every line of the file has exactly one outcome, no valid entity id
        // appears twice, and the outcomes add up to the total.
        var byOutcome = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var validIds = new HashSet<(string?, string?)>();
        int records = 0, repeatedIds = 0;
        await foreach (var record in Outputs(store, batch, cancellationToken))
        {
            records++;
            var outcome = record.Outcome.Length == 0 ? "pending" : record.Outcome;
            byOutcome[outcome] = byOutcome.GetValueOrDefault(outcome) + 1;
            if (outcome != RecordOutcomes.Invalid && !validIds.Add((record.DataType, record.EntityId)))
                repeatedIds++;
        }
        var accounted = byOutcome.Values.Sum();
        var settled = !BatchStatuses.IsActive(batch.Status) && !byOutcome.ContainsKey("pending");
        var verification = new BatchVerification(
            records, summary.Succeeded, summary.Failed, summary.Invalid, summary.Pending, byOutcome, repeatedIds,
            Balanced: records == summary.Succeeded + summary.Failed + summary.Invalid + summary.Pending && accounted == records && repeatedIds == 0,
            Final: settled);
        var timings = new BatchTimings(batch.CreatedAt, batch.ValidatedAt, batch.FinishedAt, batch.ArchivedAt,
            batch.ValidatedAt is { } v ? (v - batch.CreatedAt).TotalSeconds : null,
            batch.ValidatedAt is { } start && batch.FinishedAt is { } end ? (end - start).TotalSeconds : null);
        var parameters = new BatchParameters(batch.DataType, batch.ContentType, batch.Bytes, batch.Deadline, batch.CallbackUrl);
        var callback = batch.CallbackUrl is null ? null
            : new BatchCallback(batch.CallbackUrl, batch.CallbackAttempts, batch.CallbackDeliveredAt, batch.CallbackNextAt, batch.CallbackLastError);
        return TypedResults.Ok(new BatchAudit(summary, parameters, timings, states, verification, callback));
    }

    private static async Task<Results<Ok<BatchSummary>, ProblemHttpResult>> CancelAsync(
        string id, BatchStore store, BatchService service, CancellationToken cancellationToken)
    {
        if (RejectId(id) is { } idError)
            return ApiProblems.BadRequest(idError);
        if (await store.GetAsync(id, cancellationToken) is not { } batch)
            return ApiProblems.NotFound(NoSuchBatch(id));
        if (!await service.CancelAsync(id, cancellationToken))
        {
            return TypedResults.Problem($"Batch {id} has already ended ({batch.Status}); only a validating or in-progress batch can be cancelled.",
                statusCode: StatusCodes.Status409Conflict, title: "Conflict");
        }
        return TypedResults.Ok(await service.SummarizeAsync((await store.GetAsync(id, cancellationToken))!, cancellationToken));
    }

    /// <summary>Every record of the batch in line order, read a page at a time.</summary>
    private static async IAsyncEnumerable<BatchRecordOutput> Outputs(
        BatchStore store, BatchRow batch, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var after = 0L;
        while (true)
        {
            var page = await store.RecordsAsync(batch, after, OutputPage, cancellationToken);
            foreach (var record in page)
                yield return record;
            if (page.Count < OutputPage)
                yield break;
            after = page[^1].Line;
        }
    }

    private static string? RejectId(string id) => TextRules.RejectText(id, "id", TextRules.MaxBatchIdLength);

    private static string NoSuchBatch(string id) => $"No batch '{id}'.";
}

/// <summary>A page of batches, newest first.</summary>
internal sealed record BatchPage(IReadOnlyList<BatchSummary> Batches, int Page, int PageSize);

/// <summary>A record whose item succeeded.</summary>
internal sealed record BatchResult(long Line, string EntityId, string DataType);

/// <summary>A record that did not succeed: invalid (with the reason found in the file), failed (the item's last error), expired or cancelled.</summary>
internal sealed record BatchError(long Line, string? EntityId, string? DataType, string Outcome, string? Reason);

internal sealed record BatchParameters(string DataType, string ContentType, long Bytes, DateTimeOffset? Deadline, string? CallbackUrl);

internal sealed record BatchTimings(
    DateTimeOffset CreatedAt, DateTimeOffset? ValidatedAt, DateTimeOffset? FinishedAt, DateTimeOffset? ArchivedAt,
    double? ValidationSeconds, double? ExecutionSeconds);

/// <summary>
/// The batch's accounts checked record by record: total = succeeded + failed + invalid + pending,
/// every line has one outcome, no valid entity id twice; <see cref="Final"/> once the batch has
/// ended and nothing is pending.
/// </summary>
internal sealed record BatchVerification(
    int Records, int Succeeded, int Failed, int Invalid, int Pending, IReadOnlyDictionary<string, int> ByOutcome, int RepeatedIds,
    bool Balanced, bool Final);

internal sealed record BatchCallback(string Url, int Attempts, DateTimeOffset? DeliveredAt, DateTimeOffset? NextAttemptAt, string? LastError);

internal sealed record BatchAudit(
    BatchSummary Batch, BatchParameters Parameters, BatchTimings Timings, IReadOnlyDictionary<string, int> ItemStates,
    BatchVerification Verification, BatchCallback? Callback);
