using BatchScheduler.Configuration;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz.Extensibility;

namespace BatchScheduler.Scheduling;

/// <summary>
/// On a PostgreSQL worker: listens for <see cref="ClusterWake"/> notifications and wakes the local
/// Quartz scheduler, so items registered through other nodes start at once rather than at the
/// next idle poll. Reconnects after an outage; never stops the node.
/// </summary>
internal sealed partial class ClusterWakeListener(
    IOptions<StorageOptions> storage, IOptions<ClusterOptions> cluster, ISchedulerSignaler signaler, ILogger<ClusterWakeListener> logger)
    : BackgroundService
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedulerName = cluster.Value.SchedulerName;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(
                    new NpgsqlConnectionStringBuilder(storage.Value.ConnectionString) { Pooling = false, KeepAlive = 30 }.ConnectionString);
                await connection.OpenAsync(stoppingToken);
                var wakes = 0;
                connection.Notification += (_, e) =>
                {
                    if (e.Payload == schedulerName)
                        wakes++;
                };
                await using (var listen = new NpgsqlCommand($"LISTEN {ClusterWake.Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                Listening(logger);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                    if (wakes > 0)
                    {
                        wakes = 0;
                        await signaler.SignalSchedulingChange(null, stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                ListenFailed(logger, ex, ReconnectDelay);
                try
                {
                    await Task.Delay(ReconnectDelay, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    [LoggerMessage(1103, LogLevel.Debug, "Listening for wake-ups from other nodes")]
    private static partial void Listening(ILogger logger);

    [LoggerMessage(1104, LogLevel.Warning, "Lost the wake-up channel; items registered on other nodes start at the next idle poll until it is back (retrying in {Delay})")]
    private static partial void ListenFailed(ILogger logger, Exception exception, TimeSpan delay);
}
