using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BatchScheduler.Tests.Executors.BuiltIn;

public sealed class DemoExecutorTests
{
    private const string DataType = "dt";
    private readonly FakeTimeProvider _clock = new();

    private DemoExecutor Executor(double random, Action<DemoExecutorOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.Configure<DemoExecutorOptions>(DataType, o =>
        {
            o.Duration = TimeSpan.FromMilliseconds(50);
            configure?.Invoke(o);
        });
        var monitor = services.BuildServiceProvider().GetRequiredService<IOptionsMonitor<DemoExecutorOptions>>();
        return new DemoExecutor(_clock, monitor, () => random);
    }

    private static WorkItemContext Item(string entityId = "e1", int attempt = 1) => new(DataType, entityId, null, attempt, "node-1");

    [Fact]
    public async Task ExecuteAsync_BeforeDurationElapses_IsStillRunning()
    {
        var execution = Executor(random: 0.99).ExecuteAsync(Item(), CancellationToken.None).AsTask();

        _clock.Advance(TimeSpan.FromMilliseconds(49));
        Assert.False(execution.IsCompleted);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await execution;
    }

    [Fact]
    public async Task ExecuteAsync_RandomBelowFailureRate_Fails()
    {
        var execution = Executor(random: 0.29, o => o.FailureRate = 0.3).ExecuteAsync(Item("e7", attempt: 3), CancellationToken.None).AsTask();
        _clock.Advance(TimeSpan.FromMilliseconds(50));

        var ex = await Assert.ThrowsAsync<DemoFailureException>(() => execution);
        Assert.Equal("Simulated failure for e7 (attempt 3)", ex.Message);
    }

    [Fact]
    public async Task ExecuteAsync_RandomAtFailureRate_Succeeds()
    {
        var execution = Executor(random: 0.3, o => o.FailureRate = 0.3).ExecuteAsync(Item(), CancellationToken.None).AsTask();
        _clock.Advance(TimeSpan.FromMilliseconds(50));

        await execution;
        Assert.True(execution.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task ExecuteAsync_EntityInAlwaysFail_FailsEvenWithZeroRate()
    {
        var executor = Executor(random: 0.99, o => o.AlwaysFail = ["BAD"]);

        var execution = executor.ExecuteAsync(Item("BAD"), CancellationToken.None).AsTask();
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAsync<DemoFailureException>(() => execution);

        var other = executor.ExecuteAsync(Item("GOOD"), CancellationToken.None).AsTask();
        _clock.Advance(TimeSpan.FromMilliseconds(50));
        await other;
    }

    [Fact]
    public async Task ExecuteAsync_ZeroDuration_CompletesWithoutTimePassing()
    {
        var execution = Executor(random: 0.99, o => o.Duration = TimeSpan.Zero).ExecuteAsync(Item(), CancellationToken.None);

        Assert.True(execution.IsCompletedSuccessfully);
        await execution;
    }

    [Fact]
    public async Task ExecuteAsync_CancelledDuringWork_ThrowsOperationCanceled()
    {
        using var cts = new CancellationTokenSource();
        var execution = Executor(random: 0.99).ExecuteAsync(Item(), cts.Token).AsTask();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => execution);
    }
}
