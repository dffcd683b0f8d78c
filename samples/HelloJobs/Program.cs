using BatchScheduler.Executors.Contract;

var builder = WebApplication.CreateBuilder(args);

// BatchScheduler reads its settings (DataTypes, Cluster, Admin, ...) from the "BatchScheduler" section.
builder.Services.AddBatchScheduler(builder.Configuration.GetSection("BatchScheduler"), bs => bs
    .UseSqlite(builder.Configuration.GetConnectionString("Jobs") ?? "Data Source=hellojobs.db")
    .AddExecutor<GreetingExecutor>("greeting"));

var app = builder.Build();
app.MapGet("/", () => "HelloJobs: the app's own page. BatchScheduler's dashboard is at /jobs/.");
app.MapBatchScheduler("/jobs"); // dashboard at /jobs/, API under /jobs/api
app.Run();

/// <summary>The app's own executor: one call per work item of a data type whose Executor is "greeting".</summary>
internal sealed class GreetingExecutor(ILogger<GreetingExecutor> logger) : IWorkItemExecutor
{
    public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        var name = context.Payload?.TryGetProperty("name", out var value) == true ? value.GetString() : context.EntityId;
        logger.LogInformation("Hello, {Name}! (greetings/{EntityId}, attempt {Attempt}, node {Node})",
            name, context.EntityId, context.Attempt, context.NodeId);
        return ValueTask.CompletedTask;
    }
}
