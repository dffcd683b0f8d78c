using BatchScheduler.Executors.BuiltIn;

namespace BatchScheduler.Tests.Executors.BuiltIn;

public sealed class HttpExecutorOptionsTests
{
    private static HttpExecutorOptions Valid() => new() { Url = "http://127.0.0.1:9000/prices/{entityId}" };

    [Theory]
    [InlineData("http://127.0.0.1:9000/prices/{entityId}")]
    [InlineData("https://example.com/{entityId}/run?x={entityId}")]
    [InlineData("http://example.com/hook")]
    public void Validate_AbsoluteHttpUrl_NoProblems(string url) =>
        Assert.Empty(new HttpExecutorOptions { Url = url }.Validate());

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Validate_MissingUrl_SaysUrlIsRequired(string? url)
    {
        var problem = Assert.Single(new HttpExecutorOptions { Url = url }.Validate());

        Assert.StartsWith("Url is required", problem);
    }

    [Theory]
    [InlineData("/prices/{entityId}")]
    [InlineData("ftp://example.com/{entityId}")]
    [InlineData("not a url")]
    public void Validate_NotAbsoluteHttpUrl_NamesUrlAndValue(string url)
    {
        var problem = Assert.Single(new HttpExecutorOptions { Url = url }.Validate());

        Assert.Equal($"Url must be an absolute http or https URI (was '{url}')", problem);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("patch")]
    [InlineData("Delete")]
    public void Validate_KnownMethodAnyCase_NoProblems(string method)
    {
        var options = Valid();
        options.Method = method;

        Assert.Empty(options.Validate());
    }

    [Fact]
    public void Validate_UnknownMethod_ListsAllowedMethods()
    {
        var options = Valid();
        options.Method = "FETCH";

        Assert.Equal("Method must be one of GET, POST, PUT, PATCH, DELETE (was 'FETCH')", Assert.Single(options.Validate()));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    [InlineData("01:00:01")]
    public void Validate_TimeoutOutOfRange_NamesTimeoutAndValue(string timeout)
    {
        var options = Valid();
        options.Timeout = TimeSpan.Parse(timeout);

        Assert.Equal($"Timeout must be greater than 00:00:00 and at most 01:00:00 (was {timeout})", Assert.Single(options.Validate()));
    }

    [Fact]
    public void Validate_TimeoutOfOneHour_NoProblems()
    {
        var options = Valid();
        options.Timeout = TimeSpan.FromHours(1);

        Assert.Empty(options.Validate());
    }
}
