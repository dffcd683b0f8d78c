namespace BatchScheduler.Api;

/// <summary>Authorization policies: viewers read, admins also change things.</summary>
public static class ApiPolicies
{
    public const string Viewer = "viewer";
    public const string Admin = "admin";
}
