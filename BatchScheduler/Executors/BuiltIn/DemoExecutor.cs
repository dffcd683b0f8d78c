using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Executors.BuiltIn;

/// <summary>
/// Simulated work for the out-of-the-box run: waits <see cref="DemoExecutorOptions.Duration"/>,
/// then fails for <see cref="DemoExecutorOptions.AlwaysFail"/> entities and at
/// <see cref="DemoExecutorOptions.FailureRate"/>.
/// </summary>
internal sealed class DemoExecutor : IWorkItemExecutor
{
    private readonly TimeProvider _timeProvider;
    private readonly IOptionsMonitor<DemoExecutorOptions> _options;
    private readonly Func<double> _random01;

    /// <summary>Creates the executor with <see cref="Random.Shared"/> as the source of failures.</summary>
    public DemoExecutor(TimeProvider timeProvider, IOptionsMonitor<DemoExecutorOptions> options)
        : this(timeProvider, options, Random.Shared.NextDouble)
    {
    }

    internal DemoExecutor(TimeProvider timeProvider, IOptionsMonitor<DemoExecutorOptions> options, Func<double> random01)
    {
        _timeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _random01 = random01 ?? throw new ArgumentNullException(nameof(random01));
    }

    /// <inheritdoc />
    public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = _options.Get(context.DataType);
        if (options.Duration > TimeSpan.Zero)
        {
            await Task.Delay(options.Duration, _timeProvider, cancellationToken).ConfigureAwait(false);
        }

        if (options.AlwaysFail.Contains(context.EntityId, StringComparer.Ordinal) || _random01() < options.FailureRate)
        {
            throw new DemoFailureException($"Simulated failure for {context.EntityId} (attempt {context.Attempt})");
        }
    }
}
