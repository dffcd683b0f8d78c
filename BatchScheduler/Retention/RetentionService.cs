using BatchScheduler.Configuration;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Retention;

/// <summary>
/// Runs a <see cref="RetentionPass"/> every <see cref="RetentionOptions.Interval"/> on every node (the first one interval
/// after the start). A failed pass is logged and tried again at the next interval; it never stops the node.
/// </summary>
internal sealed partial class RetentionService(RetentionPass pass, IOptions<RetentionOptions> options, TimeProvider time, ILogger<RetentionService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await pass.RunAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is System.Data.Common.DbException or TimeoutException or InvalidOperationException
                                           && !stoppingToken.IsCancellationRequested)
                {
                    PassFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: a chunk cut off mid-statement is rolled back whole, and the next pass deletes it.
        }
    }

    [LoggerMessage(2402, LogLevel.Warning, "Retention pass failed; trying again at the next interval")]
    private static partial void PassFailed(ILogger logger, Exception exception);
}
