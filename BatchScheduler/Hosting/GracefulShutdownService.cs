using BatchScheduler.Configuration;
using BatchScheduler.Coordination;
using Microsoft.Extensions.Options;
using Quartz;

namespace BatchScheduler.Hosting;

/// <summary>
/// On SIGTERM (registered after Quartz, so it stops first): stop taking work, give running items
/// <see cref="ClusterOptions.ShutdownGracePeriod"/> to finish, then ask the rest to stop. The
/// coordinator hands those back (state <c>deferred</c>, due now, attempt not counted), so another
/// node, or this one when it starts again, runs them; Quartz then leaves the cluster cleanly.
/// </summary>
/// <remarks>
/// "Running" is every firing the job store has handed out (<see cref="FiringGate"/>), not only the
/// items whose jobs have claimed them: Quartz refuses every scheduler call once its own shutdown has
/// begun, so a firing dispatched just before standby whose job ran after it could not move its item's
/// trigger, and left the item in flight with none.
/// </remarks>
internal sealed partial class GracefulShutdownService(
    ISchedulerFactory schedulers, RunningItems running, FiringGate firings, IOptions<ClusterOptions> cluster, TimeProvider time,
    ILogger<GracefulShutdownService> logger) : IHostedService
{
    private int _stopped;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
            return;
        firings.Close();
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        await scheduler.Standby(cancellationToken);
        var grace = cluster.Value.ShutdownGracePeriod;
        if (running.Count == 0 && firings.Firings == 0)
        {
            await firings.WaitIdleAsync(cancellationToken); // a firing call still in progress
            if (firings.Firings == 0)
                return;
        }
        Draining(logger, Math.Max(running.Count, firings.Firings), grace);
        using var graceOver = new CancellationTokenSource(grace, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(graceOver.Token, cancellationToken);
        try
        {
            await WaitIdleAsync(either.Token);
            return;
        }
        catch (OperationCanceledException) when (graceOver.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            HandingBack(logger, Math.Max(running.Count, firings.Firings), grace);
        }
        running.CancelAll(); // claims taken from now on are cancelled as they are taken
        await WaitIdleAsync(cancellationToken);
    }

    private async Task WaitIdleAsync(CancellationToken cancellationToken)
    {
        await firings.WaitIdleAsync(cancellationToken);
        await running.WaitIdleAsync(cancellationToken);
    }

    [LoggerMessage(1200, LogLevel.Information, "Shutting down: no new work; waiting up to {GracePeriod} for {Count} running items")]
    private static partial void Draining(ILogger logger, int count, TimeSpan gracePeriod);

    [LoggerMessage(1201, LogLevel.Warning, "Grace period of {GracePeriod} over: handing back {Count} running items")]
    private static partial void HandingBack(ILogger logger, int count, TimeSpan gracePeriod);
}
