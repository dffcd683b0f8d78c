using System.Globalization;
using DbUp.Engine.Output;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Storage.Migrations;

/// <summary>Sends DbUp's output to an <see cref="ILogger"/>.</summary>
internal sealed class UpgradeLogAdapter(ILogger logger) : IUpgradeLog
{
    public void LogTrace(string format, params object[] args) => Write(LogLevel.Trace, null, format, args);

    public void LogDebug(string format, params object[] args) => Write(LogLevel.Debug, null, format, args);

    public void LogInformation(string format, params object[] args) => Write(LogLevel.Information, null, format, args);

    public void LogWarning(string format, params object[] args) => Write(LogLevel.Warning, null, format, args);

    public void LogError(string format, params object[] args) => Write(LogLevel.Error, null, format, args);

    public void LogError(Exception ex, string format, params object[] args) => Write(LogLevel.Error, ex, format, args);

    private void Write(LogLevel level, Exception? exception, string format, object[] args)
    {
        if (!logger.IsEnabled(level))
            return;

        // Without args DbUp's text is already final and may hold braces of its own (SQL, JSON).
        var message = args is { Length: > 0 } ? string.Format(CultureInfo.InvariantCulture, format, args) : format;
        MigrationLog.DbUp(logger, level, exception, message);
    }
}
