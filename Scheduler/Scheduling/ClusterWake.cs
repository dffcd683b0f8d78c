using BatchScheduler.Configuration;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz.Extensibility;

namespace BatchScheduler.Scheduling;

/// <summary>
/// Wakes idle workers when work is scheduled elsewhere. Quartz signals only its own process, so an
/// item registered through another node would wait for each worker's next idle poll (up to
/// <c>Cluster:IdleWaitTime</c>). On PostgreSQL the registering node sends a <c>NOTIFY</c>; every
/// worker's <see cref="ClusterWakeListener"/> hears it and signals its scheduler to look now.
/// Elsewhere (SQLite: one node; SQL Server: no equivalent here) this is a no-op.
/// </summary>
public sealed class ClusterWake(ConnectionFactory connections, IOptions<ClusterOptions> cluster)
{
    /// <summary>The PostgreSQL channel; the payload is the scheduler name, so clusters sharing a database do not wake each other.</summary>
    public const string Channel = "batchscheduler_wake";

    /// <summary>Tells every listening worker that triggers may have come due. Best effort: a lost wake only costs the idle poll.</summary>
    public async Task NotifyAsync(CancellationToken cancellationToken)
    {
        if (connections.Provider != StorageProvider.Postgres)
            return;
        try
        {
            await using var connection = await connections.OpenAsync(cancellationToken);
            await using var command = connection.Command($"SELECT pg_notify('{Channel}', @sched)").With("@sched", cluster.Value.SchedulerName);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (NpgsqlException)
        {
            // The work is stored; the workers' idle poll finds it.
        }
    }
}

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
