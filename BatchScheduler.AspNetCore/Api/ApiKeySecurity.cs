using BatchScheduler.Admin;
using BatchScheduler.Configuration;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace BatchScheduler.Api;

/// <summary>
/// Describes the API-key access of <see cref="ApiKeyAuthenticationHandler"/>: the two ways to
/// present a key, required by default; on every route that requires a policy, its role and its 401 and
/// 403 answers; on an anonymous route (<c>/healthz</c>), an empty security requirement that lifts the default.
/// Taken from the endpoints' authorization metadata, so the document cannot drift from what is enforced.
/// </summary>
internal sealed class ApiKeySecurity : IOpenApiDocumentTransformer, IOpenApiOperationTransformer
{
    private const string Bearer = "bearer";
    private const string Header = "apiKey";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key from Admin:ApiKeys as 'Authorization: Bearer <key>'.",
        };
        document.Components.SecuritySchemes[Header] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "X-Api-Key",
            Description = "An API key from Admin:ApiKeys as 'X-Api-Key: <key>'.",
        };
        document.Security = [.. Schemes(document)];
        return Task.CompletedTask;
    }

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken) =>
        DescribeAccessAsync(operation, context.Description.ActionDescriptor.EndpointMetadata,
            context.Document ?? throw new InvalidOperationException("The OpenAPI operation transformer ran without a document."),
            type => context.GetOrCreateSchemaAsync(type, null, cancellationToken));

    /// <summary>
    /// Adds the role, the security requirements and the 401/403 answers of an endpoint that requires a
    /// policy; an anonymous endpoint gets <c>security: []</c>.
    /// </summary>
    public static async Task DescribeAccessAsync(
        OpenApiOperation operation, IEnumerable<object> metadata, OpenApiDocument document, Func<Type, Task<OpenApiSchema>> createSchema)
    {
        var authorization = metadata.OfType<IAuthorizeData>().ToList();
        if (authorization.Count == 0 || metadata.OfType<IAllowAnonymous>().Any())
        {
            operation.Security = [];
            return;
        }
        var policies = authorization.Select(a => a.Policy).Where(p => p is not null).ToList();

        var role = policies.Contains(ApiPolicies.Admin) ? AdminRoles.Admin : AdminRoles.Viewer;
        operation.Description = $"{operation.Description}{(operation.Description is null ? "" : "\n\n")}Role: {role}.";
        operation.Security = [.. Schemes(document)];

        var problem = await ProblemSchemaAsync(document, createSchema);
        operation.Responses ??= [];
        operation.Responses.TryAdd("401", Problem(problem,
            "Admin:ApiKeys is configured and no key or an unknown key was presented (with 'WWW-Authenticate: Bearer')."));
        operation.Responses.TryAdd("403", Problem(problem, role == AdminRoles.Admin
            ? "The key has the viewer role and this route changes things; or the node has no Admin:ApiKeys and the caller is not on loopback."
            : "The node has no Admin:ApiKeys and the caller is not on loopback."));
    }

    /// <summary>Either way of presenting a key satisfies the requirement.</summary>
    private static IEnumerable<OpenApiSecurityRequirement> Schemes(OpenApiDocument document) =>
        new[] { Bearer, Header }.Select(scheme => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, document)] = [] });

    /// <summary>A reference to the shared problem-details schema, added to the components if no route declared a problem yet.</summary>
    private static async Task<IOpenApiSchema> ProblemSchemaAsync(OpenApiDocument document, Func<Type, Task<OpenApiSchema>> createSchema)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        if (!document.Components.Schemas.ContainsKey(nameof(ProblemDetails)))
            document.Components.Schemas[nameof(ProblemDetails)] = await createSchema(typeof(ProblemDetails));
        return new OpenApiSchemaReference(nameof(ProblemDetails), document);
    }

    private static OpenApiResponse Problem(IOpenApiSchema schema, string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = schema } },
    };
}
