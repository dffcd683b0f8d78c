using BatchScheduler.Retry;

namespace BatchScheduler.Tests.Retry;

public sealed class RetryPlannerTests
{
    private static readonly DateTimeOffset DueAt = new(2025, 3, 1, 11, 40, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = DueAt.AddMinutes(10);
    private const string Error = "TimeoutException: no answer";

    private static RetryPlanner Planner(int maxRetryAttempts = 3, TimeSpan? expiry = null, double random = 0.5) => new(
        new RetryOptions
        {
            MaxRetryAttempts = maxRetryAttempts,
            Delay = TimeSpan.FromSeconds(30),
            BackoffType = RetryBackoffType.Exponential,
            MaxDelay = TimeSpan.FromMinutes(10),
            UseJitter = false,
        },
        expiry,
        () => random);

    [Fact]
    public void Decide_FirstFailure_RetriesAfterDelayWithNextAttempt()
    {
        var decision = Assert.IsType<RetryDecision.Retry>(Planner().Decide(1, Now, DueAt, Error));

        Assert.Equal(TimeSpan.FromSeconds(30), decision.Delay);
        Assert.Equal(Now.AddSeconds(30), decision.At);
        Assert.Equal(2, decision.NextAttempt);
        Assert.Equal("Retry attempt 2 of 4 in 00:00:30: TimeoutException: no answer", decision.Reason);
    }

    [Fact]
    public void Decide_SecondFailure_BacksOffExponentially()
    {
        var decision = Assert.IsType<RetryDecision.Retry>(Planner().Decide(2, Now, DueAt, Error));

        Assert.Equal(Now.AddMinutes(1), decision.At);
        Assert.Equal(3, decision.NextAttempt);
        Assert.StartsWith("Retry attempt 3 of 4 in 00:01:00:", decision.Reason);
    }

    [Fact]
    public void Decide_LastRetryFails_DeadLettersExactlyAtOnePlusMaxRetryAttempts()
    {
        var planner = Planner(maxRetryAttempts: 3);

        Assert.IsType<RetryDecision.Retry>(planner.Decide(3, Now, DueAt, Error));
        var decision = Assert.IsType<RetryDecision.DeadLetter>(planner.Decide(4, Now, DueAt, Error));
        Assert.Equal("Dead-lettered after 4 attempts: TimeoutException: no answer", decision.Reason);
    }

    [Fact]
    public void Decide_ZeroRetries_DeadLettersOnFirstFailure()
    {
        var decision = Assert.IsType<RetryDecision.DeadLetter>(Planner(maxRetryAttempts: 0).Decide(1, Now, DueAt, Error));

        Assert.Contains("after 1 attempts", decision.Reason);
    }

    [Fact]
    public void Decide_RetryWouldLandPastExpiry_Expires()
    {
        // Due 11:40, now 11:50, window 10m30s ends 11:50:30; retry after 1 min lands 11:51.
        var planner = Planner(expiry: TimeSpan.FromSeconds(630));

        var decision = Assert.IsType<RetryDecision.Expire>(planner.Decide(2, Now, DueAt, Error));
        Assert.Equal(
            "Expired: the retry at 11:51:00Z would fall past the expiry window of 00:10:30 (due 11:40:00Z)",
            decision.Reason);
    }

    [Fact]
    public void Decide_RetryLandsExactlyAtExpiryEnd_Retries()
    {
        var planner = Planner(expiry: TimeSpan.FromSeconds(630));

        var decision = Assert.IsType<RetryDecision.Retry>(planner.Decide(1, Now, DueAt, Error));
        Assert.Equal(DueAt.AddSeconds(630), decision.At);
    }

    [Fact]
    public void Decide_OutOfAttemptsAndPastExpiry_DeadLetters() =>
        Assert.IsType<RetryDecision.DeadLetter>(Planner(maxRetryAttempts: 1, expiry: TimeSpan.Zero).Decide(2, Now, DueAt, Error));

    [Fact]
    public void Decide_WithJitter_UsesRandomSource()
    {
        var options = new RetryOptions { Delay = TimeSpan.FromSeconds(30), UseJitter = true };
        var planner = new RetryPlanner(options, null, () => 0);

        var decision = Assert.IsType<RetryDecision.Retry>(planner.Decide(1, Now, DueAt, Error));
        Assert.Equal(TimeSpan.FromSeconds(24), decision.Delay);
    }

    [Fact]
    public void Decide_AttemptBelowOne_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Planner().Decide(0, Now, DueAt, Error));

    [Fact]
    public void IsExpired_NoExpiry_NeverExpires() =>
        Assert.False(Planner(expiry: null).IsExpired(DueAt.AddYears(1), DueAt));

    [Fact]
    public void IsExpired_AtWindowEnd_NotExpired() =>
        Assert.False(Planner(expiry: TimeSpan.FromHours(1)).IsExpired(DueAt.AddHours(1), DueAt));

    [Fact]
    public void IsExpired_JustPastWindowEnd_Expired() =>
        Assert.True(Planner(expiry: TimeSpan.FromHours(1)).IsExpired(DueAt.AddHours(1).AddTicks(1), DueAt));
}
