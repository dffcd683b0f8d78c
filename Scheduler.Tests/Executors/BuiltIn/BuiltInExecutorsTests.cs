using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace BatchScheduler.Tests.Executors.BuiltIn;

public sealed class BuiltInExecutorsTests
{
    [Theory]
    [InlineData(BuiltInExecutors.Noop, typeof(NoopExecutor))]
    [InlineData(BuiltInExecutors.Http, typeof(HttpExecutor))]
    [InlineData(BuiltInExecutors.Demo, typeof(DemoExecutor))]
    public void AddBuiltInExecutors_ResolvesEachExecutorByName(string name, Type expected)
    {
        using var provider = new ServiceCollection().AddBuiltInExecutors().BuildServiceProvider();

        Assert.IsType(expected, provider.GetRequiredKeyedService<IWorkItemExecutor>(name));
        Assert.Contains(provider.GetServices<ExecutorRegistration>(), r => r.Name == name && r.ExecutorType == expected);
    }

    [Fact]
    public void AddBuiltInExecutors_NoClockRegistered_UsesSystemClock()
    {
        using var provider = new ServiceCollection().AddBuiltInExecutors().BuildServiceProvider();

        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void AddBuiltInExecutors_ClockAlreadyRegistered_KeepsIt()
    {
        var clock = new FakeTimeProvider();
        using var provider = new ServiceCollection().AddSingleton<TimeProvider>(clock).AddBuiltInExecutors().BuildServiceProvider();

        Assert.Same(clock, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public async Task NoopExecutor_ExecuteAsync_Succeeds()
    {
        var execution = new NoopExecutor().ExecuteAsync(new WorkItemContext("dt", "e1", null, 1, "node-1"), CancellationToken.None);

        Assert.True(execution.IsCompletedSuccessfully);
        await execution;
    }
}
