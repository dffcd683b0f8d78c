using BatchScheduler.Executors.BuiltIn;

namespace BatchScheduler.Tests.Executors.BuiltIn;

public sealed class DemoExecutorOptionsTests
{
    [Fact]
    public void Validate_Defaults_NoProblems() => Assert.Empty(new DemoExecutorOptions().Validate());

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Validate_FailureRateOutOfRange_NamesFailureRate(double rate) =>
        Assert.StartsWith("FailureRate must be between 0 and 1 (was ", Assert.Single(new DemoExecutorOptions { FailureRate = rate }.Validate()));

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Validate_FailureRateAtBounds_NoProblems(double rate) =>
        Assert.Empty(new DemoExecutorOptions { FailureRate = rate }.Validate());

    [Theory]
    [InlineData("-00:00:01")]
    [InlineData("00:01:00.0010000")]
    public void Validate_DurationOutOfRange_NamesDurationAndValue(string duration) =>
        Assert.Equal(
            $"Duration must be between 00:00:00 and 00:01:00 (was {duration})",
            Assert.Single(new DemoExecutorOptions { Duration = TimeSpan.Parse(duration) }.Validate()));

    [Fact]
    public void Validate_EmptyAlwaysFailEntry_NamesAlwaysFail() =>
        Assert.StartsWith("AlwaysFail", Assert.Single(new DemoExecutorOptions { AlwaysFail = ["a", " "] }.Validate()));
}
