using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.OpenApi;

namespace BatchScheduler.Api;

/// <summary>
/// Endpoints served by a middleware pipeline (health checks, metrics) have no handler method for
/// ASP.NET's API explorer to read, so it leaves them out of the OpenAPI document. <see cref="Describe"/>
/// gives such an endpoint its methods and answers as metadata; <see cref="PipelineEndpointsTransformer"/>
/// adds the described ones to the document.
/// </summary>
internal static class PipelineEndpoints
{
    /// <summary>
    /// Serves the endpoint for <paramref name="methods"/> only and describes it for the OpenAPI document;
    /// each method's operationId is the method and <paramref name="operation"/> ("Liveness": getLiveness, headLiveness).
    /// </summary>
    public static TBuilder Describe<TBuilder>(
        this TBuilder endpoint, string[] methods, string operation, string tag, string summary, string description,
        params ProducesResponseTypeMetadata[] responses)
        where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithTags(tag).WithSummary(summary).WithDescription(description)
            .WithMetadata([new HttpMethodMetadata(methods), new PipelineOperation(operation), .. responses]);
}

/// <summary>What a pipeline endpoint does, as the noun of its operationIds.</summary>
internal sealed record PipelineOperation(string Noun);

/// <summary>Adds to the document the pipeline endpoints that declare their methods (see <see cref="PipelineEndpoints.Describe"/>).</summary>
internal sealed class PipelineEndpointsTransformer(EndpointDataSource endpoints) : IOpenApiDocumentTransformer
{
    public async Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            var metadata = endpoint.Metadata;
            if (metadata.GetMetadata<MethodInfo>() is not null // a handler: the API explorer describes it
                || metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true }
                || metadata.GetMetadata<IHttpMethodMetadata>() is not { HttpMethods.Count: > 0 } methods)
            {
                continue;
            }
            document.Paths ??= [];
            var path = Path(endpoint.RoutePattern);
            if (!document.Paths.TryGetValue(path, out var existing) || existing is not OpenApiPathItem item)
                document.Paths[path] = item = new OpenApiPathItem();
            foreach (var method in methods.HttpMethods)
                item.AddOperation(new HttpMethod(method), await OperationAsync(document, context, metadata, method, cancellationToken));
        }
    }

    private static async Task<OpenApiOperation> OperationAsync(
        OpenApiDocument document, OpenApiDocumentTransformerContext context, EndpointMetadataCollection metadata, string method, CancellationToken cancellationToken)
    {
        var operation = new OpenApiOperation
        {
            OperationId = metadata.GetMetadata<PipelineOperation>() is { } name ? method.ToLowerInvariant() + name.Noun : null,
            Summary = metadata.GetMetadata<IEndpointSummaryMetadata>()?.Summary,
            Description = metadata.GetMetadata<IEndpointDescriptionMetadata>()?.Description,
            Responses = [],
        };
        foreach (var tag in metadata.GetOrderedMetadata<ITagsMetadata>().SelectMany(t => t.Tags))
        {
            document.Tags ??= new HashSet<OpenApiTag>();
            if (!document.Tags.Any(t => t.Name == tag))
                document.Tags.Add(new OpenApiTag { Name = tag });
            operation.Tags ??= new HashSet<OpenApiTagReference>();
            operation.Tags.Add(new OpenApiTagReference(tag, document));
        }
        foreach (var produces in metadata.GetOrderedMetadata<IProducesResponseTypeMetadata>())
        {
            var response = new OpenApiResponse { Description = produces.Description ?? Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(produces.StatusCode) };
            if (produces.Type is { } type && method != HttpMethods.Head)
            {
                var schema = ApiSchemas.Shared(document, type, await context.GetOrCreateSchemaAsync(type, null, cancellationToken));
                response.Content = produces.ContentTypes.ToDictionary(c => c, _ => new OpenApiMediaType { Schema = schema });
            }
            operation.Responses[produces.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)] = response;
        }
        await ApiKeySecurity.DescribeAccessAsync(operation, metadata, document, type => context.GetOrCreateSchemaAsync(type, null, cancellationToken));
        return operation;
    }

    private static string Path(RoutePattern pattern) =>
        "/" + string.Join("/", pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => $"{{{parameter.Name}}}",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => "",
        }))));
}
