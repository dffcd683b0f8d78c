using BatchScheduler.Retry;

namespace BatchScheduler.Tests.Retry;

public sealed class RetryDelayTests
{
    private static RetryOptions Options(RetryBackoffType type, bool jitter = false) => new()
    {
        BackoffType = type,
        Delay = TimeSpan.FromSeconds(10),
        MaxDelay = TimeSpan.FromMinutes(10),
        UseJitter = jitter,
    };

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 10)]
    [InlineData(5, 10)]
    public void Compute_Constant_ReturnsDelay(int attempt, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), RetryDelay.Compute(Options(RetryBackoffType.Constant), attempt, 0.5));

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 20)]
    [InlineData(5, 50)]
    public void Compute_Linear_ReturnsDelayTimesAttempt(int attempt, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), RetryDelay.Compute(Options(RetryBackoffType.Linear), attempt, 0.5));

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 20)]
    [InlineData(3, 40)]
    [InlineData(6, 320)]
    public void Compute_Exponential_DoublesPerAttempt(int attempt, int expectedSeconds) =>
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), RetryDelay.Compute(Options(RetryBackoffType.Exponential), attempt, 0.5));

    [Theory]
    [InlineData(RetryBackoffType.Exponential, 7)]
    [InlineData(RetryBackoffType.Linear, 61)]
    public void Compute_BeyondMaxDelay_CapsAtMaxDelay(RetryBackoffType type, int attempt) =>
        Assert.Equal(TimeSpan.FromMinutes(10), RetryDelay.Compute(Options(type), attempt, 0.5));

    [Theory]
    [InlineData(RetryBackoffType.Exponential, 64)]
    [InlineData(RetryBackoffType.Exponential, 1_100)]
    [InlineData(RetryBackoffType.Exponential, int.MaxValue)]
    [InlineData(RetryBackoffType.Linear, int.MaxValue)]
    public void Compute_HugeAttempt_DoesNotOverflowAndCaps(RetryBackoffType type, int attempt)
    {
        Assert.Equal(TimeSpan.FromMinutes(10), RetryDelay.Compute(Options(type), attempt, 0.5));
        Assert.Equal(TimeSpan.FromMinutes(10) * 0.8, RetryDelay.Compute(Options(type, jitter: true), attempt, 0));
    }

    [Fact]
    public void Compute_ZeroDelayHugeAttempt_ReturnsZero()
    {
        var options = Options(RetryBackoffType.Exponential);
        options.Delay = TimeSpan.Zero;

        Assert.Equal(TimeSpan.Zero, RetryDelay.Compute(options, int.MaxValue, 0.5));
    }

    [Fact]
    public void Compute_JitterWithRandomZero_ReturnsEightTenths() =>
        Assert.Equal(TimeSpan.FromSeconds(16), RetryDelay.Compute(Options(RetryBackoffType.Exponential, jitter: true), 2, 0));

    [Fact]
    public void Compute_JitterWithRandomNearOne_ReturnsAlmostSixFifths()
    {
        var delay = RetryDelay.Compute(Options(RetryBackoffType.Exponential, jitter: true), 2, 0.999);

        Assert.InRange(delay, TimeSpan.FromSeconds(23.99), TimeSpan.FromSeconds(24));
    }

    [Fact]
    public void Compute_JitterAtCap_NeverExceedsMaxDelay() =>
        Assert.Equal(TimeSpan.FromMinutes(10), RetryDelay.Compute(Options(RetryBackoffType.Exponential, jitter: true), 30, 0.999));

    [Fact]
    public void Compute_JitterOff_IgnoresRandom() =>
        Assert.Equal(
            RetryDelay.Compute(Options(RetryBackoffType.Linear), 3, 0),
            RetryDelay.Compute(Options(RetryBackoffType.Linear), 3, 0.999));

    [Theory]
    [InlineData(0, 0.5)]
    [InlineData(1, -0.1)]
    [InlineData(1, 1.5)]
    [InlineData(1, double.NaN)]
    public void Compute_InvalidArguments_Throws(int attempt, double random) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryDelay.Compute(Options(RetryBackoffType.Constant), attempt, random));
}
