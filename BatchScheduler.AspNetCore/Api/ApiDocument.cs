using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using BatchScheduler.Batches;
using BatchScheduler.BulkActions;
using BatchScheduler.Configuration;
using BatchScheduler.Health;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Mvc.Infrastructure;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;

namespace BatchScheduler.Api;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>, generated from the routes' own metadata (typed
/// results, <c>Accepts</c>, <c>ProducesProblem</c>, authorization policies, names as operationIds,
/// <see cref="QueryParameterAttribute"/>s), so it cannot list a route the node does not serve.
/// Reading it needs the viewer role, like the API it describes. It passes Redocly's recommended
/// rules (<c>tools/openapi-lint</c>, run by <c>OpenApiLintTests</c>).
/// </summary>
internal static class ApiDocument
{
    public const string Name = "v1";
    public const string Route = "/openapi/{documentName}.json";

    /// <summary>Where the document is served.</summary>
    public const string Path = "/openapi/" + Name + ".json";

    /// <summary>What the routes of each tag (<c>WithTags</c>) do, shown above them by OpenAPI viewers.</summary>
    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Work items"] = "Register, read, run, pause, cancel and remove work items, one at a time or every item matching a filter.",
        ["Data types"] = "The configured data types with their tiers, cadences, limits and the nodes that run them; pausing a whole data type.",
        ["Batches"] = "Files of records submitted together, and their results, errors and audit log.",
        ["Failures"] = "Failed attempts, newest first, and marking them done.",
        ["Health"] = "The cluster at a glance: running now, recent failures, counts, live nodes.",
        ["Access"] = "What the caller's key may do.",
        ["Nodes"] = "The cluster's nodes and their check-ins.",
        ["Vendors"] = "Credit use per vendor.",
        ["Status"] = "Per-minute statistics, as the dashboard's charts draw them.",
        ["Audit"] = "Who changed what, and when.",
        ["Liveness and readiness"] = "Probes for load balancers and orchestrators; they need no key.",
        ["Metrics"] = "Prometheus metrics of the node and the cluster.",
    };

    public static IServiceCollection AddApiDocument(this IServiceCollection services) =>
        services.AddOpenApi(Name, options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "BatchScheduler",
                    Version = Name,
                    Description = "Work items, batches, failures and cluster status of a BatchScheduler cluster. "
                        + "Bodies are JSON in camelCase; errors are RFC 9457 problem details whose detail says what was wrong. "
                        + "With Admin:ApiKeys configured every /api route needs a key (Authorization: Bearer <key> or X-Api-Key: <key>): "
                        + "role viewer reads, role admin also changes things. Without keys only loopback callers are answered, under a loopback Host "
                        + "(or one in Admin:AllowedHosts), and a change must not come from a page on another origin: a POST without a JSON, CSV or "
                        + "NDJSON body sends the header X-Requested-With (any value).",
                };
                // The server is the node that answered ("http://host:port/"); a client appends paths that start with '/'.
                foreach (var server in document.Servers ?? [])
                {
                    if (server.Url is { Length: > 1 } url && url.EndsWith('/'))
                        server.Url = url.TrimEnd('/');
                }
                return Task.CompletedTask;
            });
            options.AddDocumentTransformer<PipelineEndpointsTransformer>();
            options.AddDocumentTransformer<ApiKeySecurity>();
            options.AddDocumentTransformer((document, _, _) => // after the pipeline endpoints, which add tags of their own
            {
                foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
                    tag.Description ??= tag.Name is { } name ? TagDescriptions.GetValueOrDefault(name) : null;
                return Task.CompletedTask;
            });
            options.AddOperationTransformer<ApiKeySecurity>();
            options.AddOperationTransformer<QueryParameterDocs>();
            options.AddOperationTransformer<NextPageLinkDocs>();
            options.AddSchemaTransformer<FixedValueSchemas>();
        });

    public static IEndpointRouteBuilder MapApiDocument(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(Route).RequireAuthorization(ApiPolicies.Viewer);
        return app;
    }
}

/// <summary>
/// Documents a query parameter that its handler binds as text, so that a bad value is answered by the
/// handler's own 400 naming the field rather than by a binding failure. The attribute on the
/// handler's parameter gives the document the parameter's description and the schema of the values
/// the handler accepts (<see cref="QueryParameterDocs"/> writes them); <c>OpenApiQueryParametersTests</c>
/// sends the documented values and their neighbours to check the handler agrees.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter)]
internal abstract class QueryParameterAttribute(string description) : Attribute
{
    public string Description { get; } = description;

    public abstract OpenApiSchema Schema();
}

/// <summary>Text; <see cref="Format"/> as JSON Schema names it (<c>uri</c>), if any.</summary>
internal sealed class QueryTextAttribute(string description) : QueryParameterAttribute(description)
{
    public string? Format { get; init; }

    public override OpenApiSchema Schema() => new() { Type = JsonSchemaType.String, Format = Format };
}

/// <summary>A whole number from <paramref name="minimum"/> to <paramref name="maximum"/>, <paramref name="default"/> when absent.</summary>
internal sealed class QueryIntegerAttribute(int minimum, int maximum, int @default, string description) : QueryParameterAttribute(description)
{
    public override OpenApiSchema Schema() => new()
    {
        Type = JsonSchemaType.Integer,
        Format = "int32",
        Minimum = minimum.ToString(CultureInfo.InvariantCulture),
        Maximum = maximum.ToString(CultureInfo.InvariantCulture),
        Default = JsonValue.Create(@default),
    };
}

/// <summary><c>true</c> or <c>false</c>.</summary>
internal sealed class QueryBooleanAttribute(string description) : QueryParameterAttribute(description)
{
    public override OpenApiSchema Schema() => new() { Type = JsonSchemaType.Boolean };
}

/// <summary>An ISO 8601 instant such as <c>2026-11-23T18:00:00Z</c>.</summary>
internal sealed class QueryInstantAttribute(string description) : QueryParameterAttribute(description)
{
    public override OpenApiSchema Schema() => new() { Type = JsonSchemaType.String, Format = "date-time" };
}

/// <summary>One of the names in the <c>public static All</c> list of <paramref name="values"/> (<c>WorkItemStates</c>, <c>BatchStatuses</c>).</summary>
internal sealed class QueryOneOfAttribute(Type values, string description) : QueryParameterAttribute(description)
{
    public override OpenApiSchema Schema() => new()
    {
        Type = JsonSchemaType.String,
        Enum = [.. (values.GetField("All", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as IEnumerable<string>
            ?? throw new InvalidOperationException($"{values.Name} has no public static All list of names.")).Select(v => (JsonNode)JsonValue.Create(v))],
    };
}

/// <summary>Gives each query parameter the description and schema of its handler parameter's <see cref="QueryParameterAttribute"/>.</summary>
internal sealed class QueryParameterDocs : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var parameter in context.Description.ParameterDescriptions)
        {
            if (parameter.Source == BindingSource.Query
                && parameter.ParameterDescriptor is IParameterInfoParameterDescriptor { ParameterInfo: var info }
                && info.GetCustomAttribute<QueryParameterAttribute>() is { } doc
                && operation.Parameters?.FirstOrDefault(p => p.In == ParameterLocation.Query && p.Name == parameter.Name) is OpenApiParameter documented)
            {
                documented.Description = doc.Description;
                documented.Schema = doc.Schema();
            }
        }
        return Task.CompletedTask;
    }
}

/// <summary>Endpoint metadata: the 200 answer is one page of an array and names the following page in a <c>Link</c> header (RFC 8288, <c>rel="next"</c>).</summary>
internal sealed class NextPageLink
{
    public static readonly NextPageLink Instance = new();

    public const string Description = "Present when more rows follow: <URL of the next page>; rel=\"next\", this request's path and filters with after=<cursor>. Absent on the last page.";
}

/// <summary>Documents the <c>Link</c> header of the routes marked with <see cref="NextPageLink"/>.</summary>
internal sealed class NextPageLinkDocs : IOpenApiOperationTransformer
{
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.Description.ActionDescriptor.EndpointMetadata.OfType<NextPageLink>().Any()
            && operation.Responses?.TryGetValue("200", out var ok) == true && ok is OpenApiResponse response)
        {
            response.Headers ??= new Dictionary<string, IOpenApiHeader>();
            response.Headers["Link"] = new OpenApiHeader { Description = NextPageLink.Description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// Lists the values of the string properties whose values are a fixed set (states, statuses, kinds,
/// roles) as their schema's <c>enum</c>, taken from the constants the code uses. A null in the list
/// means the property may be null in an answer.
/// </summary>
internal sealed class FixedValueSchemas : IOpenApiSchemaTransformer
{
    private static readonly string?[] BulkActions = [.. Enum.GetValues<BulkActionKind>().Select(BulkActionRunner.Name)];
    private static readonly string?[] HealthStatuses = Enum.GetNames<HealthStatus>();

    private static readonly Dictionary<(Type Type, string Property), string?[]> Values = new()
    {
        [(typeof(WorkItem), nameof(WorkItem.State))] = [.. WorkItemStates.All],
        [(typeof(BulkActionFilter), nameof(BulkActionFilter.State))] = [.. WorkItemStates.All, null],
        [(typeof(BatchSummary), nameof(BatchSummary.Status))] = [.. BatchStatuses.All],
        [(typeof(BatchSummary), nameof(BatchSummary.Outcome))] = [.. BatchStatuses.All.Where(s => !BatchStatuses.IsActive(s)), null],
        [(typeof(BatchError), nameof(BatchError.Outcome))] = [RecordOutcomes.Invalid, RecordOutcomes.Failed, RecordOutcomes.Expired, RecordOutcomes.Cancelled],
        [(typeof(BulkActionRequest), nameof(BulkActionRequest.Action))] = BulkActions,
        [(typeof(BulkActionStatus), nameof(BulkActionStatus.Action))] = BulkActions,
        [(typeof(BulkActionStatus), nameof(BulkActionStatus.State))] =
            [BulkActionStates.Running, BulkActionStates.Done, BulkActionStates.Failed, BulkActionStates.Interrupted],
        [(typeof(HealthReportBody), nameof(HealthReportBody.Status))] = HealthStatuses,
        [(typeof(HealthCheckBody), nameof(HealthCheckBody.Status))] = HealthStatuses,
        [(typeof(CallerAccess), nameof(CallerAccess.Role))] = [AdminRoles.Viewer, AdminRoles.Admin],
        [(typeof(QuietHoursWindow), nameof(QuietHoursWindow.Days))] = [.. Enum.GetValues<DayOfWeek>().Select(d => d.ToString()[..3])],
    };

    /// <summary>String properties that hold an ISO 8601 instant with an offset (read by <c>RunAtText</c>).</summary>
    private static readonly HashSet<(Type Type, string Property)> Instants =
    [
        (typeof(PutWorkItemRequest), nameof(PutWorkItemRequest.RunAt)),
        (typeof(BulkWorkItem), nameof(BulkWorkItem.RunAt)),
    ];

    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is not { DeclaringType: var type, AttributeProvider: MemberInfo member })
            return Task.CompletedTask;
        // An array of such names (quiet hours' days) lists them for its items.
        var target = schema.Type?.HasFlag(JsonSchemaType.Array) == true ? schema.Items as OpenApiSchema : schema;
        if (target is null)
            return Task.CompletedTask;
        if (Values.TryGetValue((type, member.Name), out var values))
            target.Enum = [.. values.Select(v => v is null ? JsonNullSentinel.JsonNull : JsonValue.Create(v))];
        if (Instants.Contains((type, member.Name)))
            target.Format = "date-time";
        return Task.CompletedTask;
    }
}
