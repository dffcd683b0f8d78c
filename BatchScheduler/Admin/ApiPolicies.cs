namespace BatchScheduler.Api;

/// <summary>Authorization policies: viewers read, admins also change things.</summary>
internal static class ApiPolicies
{
    public const string Viewer = "BatchScheduler.Viewer";
    public const string Admin = "BatchScheduler.Admin";
}
