using System.CommandLine;

namespace BatchScheduler.Cli;

/// <summary>The verbs of the Scheduler executable: <c>run</c> (default) and <c>migrate</c>.</summary>
internal static class SchedulerCommands
{
    public static RootCommand Create()
    {
        var run = new Command("run", "Start a node: executes work items and serves the dashboard and API (the default).")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        run.SetAction((result, ct) => NodeRunner.RunAsync(result.UnmatchedTokens.ToArray(), ct));

        var migrate = new Command("migrate", "Create or upgrade the schema of the configured store, then exit.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        migrate.SetAction((result, ct) => NodeRunner.MigrateAsync(result.UnmatchedTokens.ToArray(), ct));

        var root = new RootCommand(
            "BatchScheduler: every work item its own persistent Quartz.NET trigger. Settings come from appsettings.json, " +
            "environment variables (Storage__Provider=Postgres) and --Section:Key=value arguments.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        root.Subcommands.Add(run);
        root.Subcommands.Add(migrate);
        root.SetAction((result, ct) => NodeRunner.RunAsync(result.UnmatchedTokens.ToArray(), ct));
        return root;
    }
}
