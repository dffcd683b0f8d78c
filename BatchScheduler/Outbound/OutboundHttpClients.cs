using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace BatchScheduler.Outbound;

/// <summary>
/// Named HTTP clients for requests to URLs users name (batch callbacks, the alert webhook): every
/// connection, redirects included, is checked against <see cref="OutboundPolicy"/> after name
/// resolution and made to the address that was checked, so a name resolving (or re-resolving, DNS
/// rebinding) to a metadata or link-local address is refused. No proxy: the check must see the target.
/// </summary>
internal static class OutboundHttpClients
{
    public static IHttpClientBuilder AddOutboundHttpClient(this IServiceCollection services, string name)
    {
        services.TryAddSingleton<OutboundPolicy>();
        services.TryAddSingleton<HostResolver>();
        return services.AddHttpClient(name).ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = ConnectCallback(name, sp.GetRequiredService<OutboundPolicy>(), sp.GetRequiredService<HostResolver>(),
                sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OutboundPolicy))),
        });
    }

    private static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback(
        string client, OutboundPolicy policy, HostResolver resolver, ILogger logger) => async (context, cancellationToken) =>
    {
        var (host, port) = (context.DnsEndPoint.Host, context.DnsEndPoint.Port);
        var refusal = policy.HostRefusal(host);
        var allowed = new List<IPAddress>();
        if (refusal is null)
        {
            var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal)
                ? [literal]
                : await resolver.ResolveAsync(host, cancellationToken);
            foreach (var address in addresses)
            {
                if (policy.AddressRefusal(address) is { } reason)
                    refusal ??= $"{host} resolves to a refused address ({reason})";
                else
                    allowed.Add(address);
            }
        }
        if (allowed.Count == 0)
        {
            refusal ??= $"{host} resolves to no address";
            OutboundLog.Refused(logger, client, host, port, refusal);
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"Refused by the outbound policy: {refusal}.");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed.ToArray(), port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    };
}
