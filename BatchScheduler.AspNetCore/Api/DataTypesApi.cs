using System.Globalization;
using System.Security.Claims;
using BatchScheduler.Configuration;
using BatchScheduler.Lifecycle;
using BatchScheduler.Scheduling;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Quartz;

namespace BatchScheduler.Api;

/// <summary>Body of the pause routes: why (required, up to <see cref="PauseRequest.MaxReasonLength"/> characters).</summary>
internal sealed record PauseRequest(string? Reason)
{
    /// <summary>What Quartz keeps of a pause's reason (<c>qrtz_paused_trigger_grps.pause_reason</c>).</summary>
    public const int MaxReasonLength = PauseDetails.MaxReasonLength;
}

/// <summary>A configured data type as <c>GET /api/data-types</c> shows it.</summary>
/// <param name="Cadence">Each tier's cadence as configured: a duration or <c>cron:&lt;expression&gt;</c> (null: the tier runs its items once).</param>
/// <param name="TimeZone">The IANA time zone cron cadences and quiet hours are read in.</param>
/// <param name="QuietHours">The quiet-hours windows, in <paramref name="TimeZone"/> (empty: none).</param>
/// <param name="Limits">Its concurrency limits and the live nodes that execute it (issue 22).</param>
internal sealed record DataTypeStatus(
    string DataType, string Executor, string? DefaultTier, IReadOnlyDictionary<string, string?> Cadence, string TimeZone,
    IReadOnlyList<QuietHoursWindow> QuietHours, bool Paused, string? PausedReason, string? PausedBy, DateTimeOffset? PausedAt,
    [property: System.Text.Json.Serialization.JsonIgnore] DataTypeServing? Limits = null)
{
    /// <summary>At most this many of its items run at once across the cluster (null: no limit).</summary>
    public int? MaxConcurrency => Limits?.MaxConcurrency;

    /// <summary>At most this many of its items run at once on each node (null: no limit).</summary>
    public int? MaxConcurrencyPerNode => Limits?.MaxConcurrencyPerNode;

    /// <summary>The live nodes that execute it (<c>Cluster:DataTypes</c>), by node id.</summary>
    public IReadOnlyList<string> Nodes => Limits?.Nodes ?? [];

    /// <summary>True when no live node executes it: its items wait until one that lists it starts.</summary>
    public bool Unserved => Nodes.Count == 0;
}

/// <summary>A data type's limits and the live nodes that execute it, as <see cref="DataTypeStatus"/> shows them.</summary>
internal sealed record DataTypeServing(int? MaxConcurrency, int? MaxConcurrencyPerNode, IReadOnlyList<string> Nodes);

/// <summary>One quiet-hours window: <c>from</c>/<c>to</c> as <c>HH:mm</c> local times (crossing midnight when <c>to</c> is not after <c>from</c>), on the days it starts.</summary>
internal sealed record QuietHoursWindow(string From, string To, IReadOnlyList<string> Days);

/// <summary>The <c>/api/data-types</c> routes, and pause/resume of single items.</summary>
internal static class DataTypesApi
{
    public static RouteGroupBuilder MapDataTypesApi(this RouteGroupBuilder api)
    {
        var types = api.MapGroup("/data-types").WithTags("Data types");
        types.MapGet("/", ListAsync).RequireAuthorization(ApiPolicies.Viewer).WithName("listDataTypes")
            .WithSummary("List the configured data types")
            .WithDescription("Each data type with its executor, tiers and cadences, and whether it is paused (by whom, when, why); "
                + "its concurrency limits (maxConcurrency across the cluster, maxConcurrencyPerNode; null: none), the live nodes that execute it (nodes, "
                + "from Cluster:DataTypes), and unserved: true when no live node executes it, so its items wait until one that does starts.");
        types.MapPost("/{dataType}/pause", PauseAsync).RequireAuthorization(ApiPolicies.Admin).WithName("pauseDataType")
            .WithSummary("Pause a data type")
            .WithDescription("No item of it starts until it is resumed, on any node; attempts running now finish. "
                + "Its Quartz trigger group is paused (qrtz_paused_trigger_grps, with the reason and who asked). "
                + $"Body: {{\"reason\": \"...\"}} (required, at most {PauseRequest.MaxReasonLength} characters). Pausing a paused data type changes nothing.")
            .DescribesJsonBody<PauseRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        types.MapPost("/{dataType}/resume", ResumeAsync).RequireAuthorization(ApiPolicies.Admin).WithName("resumeDataType")
            .WithSummary("Resume a data type")
            .WithDescription("What fell due while it was paused runs once, stalest first. Items paused by themselves stay paused.")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);

        var items = api.MapGroup("/work-items").WithTags("Work items");
        items.MapPost("/{dataType}/{entityId}/pause", PauseItemAsync).RequireAuthorization(ApiPolicies.Admin).WithName("pauseWorkItem")
            .WithSummary("Pause a work item")
            .WithDescription("The item is in state paused and does not start until resumed; an attempt running now finishes (its outcome is kept for the resume). "
                + $"Body: {{\"reason\": \"...\"}} (required, at most {PauseRequest.MaxReasonLength} characters). Pausing a paused item changes nothing.")
            .DescribesJsonBody<PauseRequest>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        items.MapPost("/{dataType}/{entityId}/resume", ResumeItemAsync).RequireAuthorization(ApiPolicies.Admin).WithName("resumeWorkItem")
            .WithSummary("Resume a work item")
            .WithDescription("The item gets back the state it had; if it fell due while paused it runs once (unless its data type is paused).")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return api;
    }

    private static async Task<Ok<List<DataTypeStatus>>> ListAsync(
        DataTypeCatalog catalog, WorkItemScheduler triggers, Limits.NodeDataTypesQuery serving, CancellationToken cancellationToken)
    {
        var paused = await triggers.PausedGroupsAsync(cancellationToken);
        var nodes = await serving.LiveNodesAsync(cancellationToken);
        return TypedResults.Ok(catalog.All.OrderBy(d => d.Name, StringComparer.Ordinal).Select(d => StatusOf(d, paused, nodes)).ToList());
    }

    private static async Task<Results<Ok<DataTypeStatus>, ProblemHttpResult>> PauseAsync(
        string dataType, HttpRequest request, ClaimsPrincipal user, DataTypeCatalog catalog, ItemLifecycle lifecycle, WorkItemScheduler triggers,
        IOptions<RequestLimitsOptions> limits, Limits.NodeDataTypesQuery serving, CancellationToken cancellationToken)
    {
        var (definition, problem) = Find(dataType, catalog);
        if (definition is null)
            return problem!;
        var (reason, bodyProblem) = await ReadReasonAsync(request, limits.Value, cancellationToken);
        if (bodyProblem is not null)
            return bodyProblem;
        await lifecycle.PauseDataTypeAsync(definition, Who(user), reason, cancellationToken);
        return TypedResults.Ok(StatusOf(definition, await triggers.PausedGroupsAsync(cancellationToken), await serving.LiveNodesAsync(cancellationToken)));
    }

    private static async Task<Results<Ok<DataTypeStatus>, ProblemHttpResult>> ResumeAsync(
        string dataType, DataTypeCatalog catalog, ItemLifecycle lifecycle, WorkItemScheduler triggers, Limits.NodeDataTypesQuery serving,
        CancellationToken cancellationToken)
    {
        var (definition, problem) = Find(dataType, catalog);
        if (definition is null)
            return problem!;
        await lifecycle.ResumeDataTypeAsync(definition, cancellationToken);
        return TypedResults.Ok(StatusOf(definition, await triggers.PausedGroupsAsync(cancellationToken), await serving.LiveNodesAsync(cancellationToken)));
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> PauseItemAsync(
        string dataType, string entityId, HttpRequest request, ClaimsPrincipal user, DataTypeCatalog catalog, ItemLifecycle lifecycle,
        WorkItemStore store, IOptions<RequestLimitsOptions> limits, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        var (definition, problem) = Find(dataType, catalog, entityId);
        if (definition is null)
            return problem!;
        var (reason, bodyProblem) = await ReadReasonAsync(request, limits.Value, cancellationToken);
        if (bodyProblem is not null)
            return bodyProblem;
        if (await lifecycle.PauseAsync(definition, entityId, Who(user), reason, cancellationToken) == PauseResult.NotFound)
            return ApiProblems.NotFound(NoSuchItem(dataType, entityId));
        return await CurrentAsync(store, dataType, entityId, cancellationToken);
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> ResumeItemAsync(
        string dataType, string entityId, DataTypeCatalog catalog, ItemLifecycle lifecycle, WorkItemStore store, CancellationToken cancellationToken)
    {
        entityId = RequestValues.EntityId(entityId);
        var (definition, problem) = Find(dataType, catalog, entityId);
        if (definition is null)
            return problem!;
        if (await lifecycle.ResumeAsync(definition, entityId, cancellationToken) == PauseResult.NotFound)
            return ApiProblems.NotFound(NoSuchItem(dataType, entityId));
        return await CurrentAsync(store, dataType, entityId, cancellationToken);
    }

    /// <summary>The route's data type (400 when its text, or the entity id's, is not one; 404 when it is not configured).</summary>
    private static (DataTypeDefinition? Definition, ProblemHttpResult? Problem) Find(string dataType, DataTypeCatalog catalog, string? entityId = null)
    {
        if ((TextRules.RejectText(dataType, "dataType", TextRules.MaxDataTypeLength)
            ?? (entityId is null ? null : TextRules.RejectText(entityId, "entityId", TextRules.MaxEntityIdLength))) is { } addressError)
        {
            return (null, ApiProblems.BadRequest(addressError));
        }
        return catalog.TryGet(dataType, out var definition) ? (definition, null) : (null, ApiProblems.NotFound(catalog.Unknown(dataType)));
    }

    private static async Task<Results<Ok<WorkItem>, ProblemHttpResult>> CurrentAsync(WorkItemStore store, string dataType, string entityId, CancellationToken cancellationToken) =>
        await store.GetAsync(dataType, entityId, cancellationToken) is { } item ? TypedResults.Ok(item) : ApiProblems.NotFound(NoSuchItem(dataType, entityId));

    /// <summary>The pause's reason from the body: required (unless <paramref name="required"/> is false: then the body may be absent, or without one), within the text rule and Quartz's length.</summary>
    internal static async Task<(string? Reason, ProblemHttpResult? Problem)> ReadReasonAsync(
        HttpRequest request, RequestLimitsOptions limits, CancellationToken cancellationToken, bool required = true)
    {
        if (!required && (request.ContentLength == 0
            || request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false }))
        {
            return (null, null);
        }
        var (body, problem) = await JsonBody.ReadAsync<PauseRequest>(request, new JsonBodyLimits(
            limits.MaxBodyBytes, $"{RequestLimitsOptions.Section}:{nameof(limits.MaxBodyBytes)}",
            limits.MaxJsonValues, $"{RequestLimitsOptions.Section}:{nameof(limits.MaxJsonValues)}"), cancellationToken);
        if (body is null)
            return (null, problem);
        if (string.IsNullOrWhiteSpace(body.Reason) && !required)
            return (null, null);
        if (string.IsNullOrWhiteSpace(body.Reason))
            return (null, ApiProblems.BadRequest("reason is missing; say why (it is shown with the pause, e.g. \"vendor outage\")."));
        if (TextRules.RejectText(body.Reason, "reason", PauseRequest.MaxReasonLength) is { } reasonError)
            return (null, ApiProblems.BadRequest(reasonError));
        return (body.Reason.Trim(), null);
    }

    /// <summary>Who asked: the key's name (<c>Admin:ApiKeys:&lt;i&gt;:Name</c>), or <c>loopback</c> without keys.</summary>
    internal static string Who(ClaimsPrincipal user) => Admin.ApiKeyNames.Who(user);

    private static DataTypeStatus StatusOf(DataTypeDefinition definition, IReadOnlyDictionary<string, PauseInfo?> paused, IReadOnlyDictionary<string, List<string>> nodes) =>
        StatusOf(definition, paused) with
        {
            Limits = new DataTypeServing(definition.Options.MaxConcurrency, definition.Options.MaxConcurrencyPerNode, nodes.GetValueOrDefault(definition.Name) ?? []),
        };

    private static DataTypeStatus StatusOf(DataTypeDefinition definition, IReadOnlyDictionary<string, PauseInfo?> paused)
    {
        var isPaused = paused.TryGetValue(definition.Name, out var pause);
        return new DataTypeStatus(
            definition.Name, definition.Options.Executor, definition.DefaultTier, definition.CadenceTexts, definition.TimeZone.Id,
            definition.QuietWindows.Select(w => new QuietHoursWindow(
                w.From.ToString("HH:mm", CultureInfo.InvariantCulture), w.To.ToString("HH:mm", CultureInfo.InvariantCulture),
                w.Days.Select(d => d.ToString()[..3]).ToList())).ToList(),
            isPaused, pause?.Reason, pause?.RequestedBy, pause?.PausedAtUtc);
    }

    private static string NoSuchItem(string dataType, string entityId) =>
        $"No work item '{entityId}' of data type '{dataType}'.";
}
