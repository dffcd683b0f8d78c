using BatchScheduler.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace BatchScheduler.Hosting;

/// <summary>Prints where the dashboard and API answer once the node listens.</summary>
internal sealed class AddressBanner(IServer server, IHostApplicationLifetime lifetime, NodeIdentity node, ILogger<AddressBanner> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
                logger.LogInformation("Node {NodeId} listening: dashboard {Address}/  API {Address}/api  health {Address}/api/health", node.Id, address, address, address);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
