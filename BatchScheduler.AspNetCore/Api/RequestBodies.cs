using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace BatchScheduler.Api;

/// <summary>
/// Declares a request body in the OpenAPI document only. <c>Accepts&lt;T&gt;</c> would say the same
/// but also make routing answer any other Content-Type with a bare 415 before the handler runs,
/// where the handler's own check (JsonBody, the batch upload) says what to send instead.
/// </summary>
internal static class RequestBodies
{
    /// <summary>A JSON body shaped like <typeparamref name="T"/>.</summary>
    public static RouteHandlerBuilder DescribesJsonBody<T>(this RouteHandlerBuilder endpoint) =>
        endpoint.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            var document = context.Document ?? throw new InvalidOperationException("The OpenAPI operation transformer ran without a document.");
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken);
            operation.RequestBody = Body(ApiSchemas.Shared(document, typeof(T), schema), "application/json");
        });

    /// <summary>A file sent as the body, in one of <paramref name="contentTypes"/>.</summary>
    public static RouteHandlerBuilder DescribesFileBody(this RouteHandlerBuilder endpoint, params string[] contentTypes) =>
        endpoint.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.RequestBody = Body(new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" }, contentTypes);
            return Task.CompletedTask;
        });

    private static OpenApiRequestBody Body(IOpenApiSchema schema, params string[] contentTypes) => new()
    {
        Required = true,
        Content = contentTypes.ToDictionary(c => c, _ => new OpenApiMediaType { Schema = schema }),
    };
}

/// <summary>Schemas that transformers add to the document.</summary>
internal static class ApiSchemas
{
    /// <summary>An object shape as a component named after its type, referenced; anything else inline.</summary>
    public static IOpenApiSchema Shared(OpenApiDocument document, Type type, OpenApiSchema schema)
    {
        if (schema.Type != JsonSchemaType.Object)
            return schema;
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas.TryAdd(type.Name, schema);
        return new OpenApiSchemaReference(type.Name, document);
    }
}
