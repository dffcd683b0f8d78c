namespace BatchScheduler.Outbound;

/// <summary>Log lines about outbound requests users name. Event ids 1950-1959 are the outbound policy's and stay stable.</summary>
internal static partial class OutboundLog
{
    [LoggerMessage(1950, LogLevel.Warning, "Outbound {Client} request to {Host}:{Port} refused by the outbound policy: {Reason}")]
    public static partial void Refused(ILogger logger, string client, string host, int port, string reason);
}
