using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>Writes log lines into the test's own output, shown when it fails. Only for code that finishes within the test.</summary>
public sealed class TestOutputLogger<T>(ITestOutputHelper output) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(
        LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        output.WriteLine($"{logLevel,-11} {typeof(T).Name}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}
