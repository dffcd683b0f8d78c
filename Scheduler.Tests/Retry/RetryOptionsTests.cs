using BatchScheduler.Retry;

namespace BatchScheduler.Tests.Retry;

public sealed class RetryOptionsTests
{
    [Fact]
    public void Validate_Defaults_NoProblems() => Assert.Empty(new RetryOptions().Validate());

    [Fact]
    public void Validate_ZeroRetries_NoProblems() => Assert.Empty(new RetryOptions { MaxRetryAttempts = 0 }.Validate());

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void Validate_MaxRetryAttemptsOutOfRange_NamesKeyAndValue(int value)
    {
        var problem = Assert.Single(new RetryOptions { MaxRetryAttempts = value }.Validate());

        Assert.Equal($"MaxRetryAttempts must be between 0 and 100 (was {value})", problem);
    }

    [Fact]
    public void Validate_NegativeDelay_NamesDelay()
    {
        var problem = Assert.Single(new RetryOptions { Delay = TimeSpan.FromSeconds(-1) }.Validate());

        Assert.StartsWith("Delay must be between", problem);
        Assert.Contains("(was -00:00:01)", problem);
    }

    [Fact]
    public void Validate_ZeroMaxDelay_NamesMaxDelay()
    {
        var problem = Assert.Single(new RetryOptions { Delay = TimeSpan.Zero, MaxDelay = TimeSpan.Zero }.Validate());

        Assert.StartsWith("MaxDelay must be greater than 00:00:00", problem);
    }

    [Fact]
    public void Validate_MaxDelayShorterThanDelay_NamesBoth()
    {
        var problem = Assert.Single(
            new RetryOptions { Delay = TimeSpan.FromMinutes(5), MaxDelay = TimeSpan.FromMinutes(1) }.Validate());

        Assert.Equal("MaxDelay must not be shorter than Delay (00:05:00) (was 00:01:00)", problem);
    }

    [Fact]
    public void Validate_UndefinedBackoffType_ListsAllowedValues()
    {
        var problem = Assert.Single(new RetryOptions { BackoffType = (RetryBackoffType)7 }.Validate());

        Assert.Equal("BackoffType must be one of Constant, Linear, Exponential (was 7)", problem);
    }

    [Fact]
    public void Validate_SeveralBadSettings_ReportsEach()
    {
        var problems = new RetryOptions { MaxRetryAttempts = -1, Delay = TimeSpan.FromSeconds(-1) }.Validate();

        Assert.Collection(
            problems,
            p => Assert.StartsWith("MaxRetryAttempts", p),
            p => Assert.StartsWith("Delay", p));
    }
}
