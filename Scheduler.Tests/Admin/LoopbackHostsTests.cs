using BatchScheduler.Admin;
using Microsoft.AspNetCore.Http;

namespace BatchScheduler.Tests.Admin;

/// <summary>Which <c>Host</c> names a loopback caller without a key may use, and which <c>Admin:AllowedHosts</c> entries are accepted.</summary>
public sealed class LoopbackHostsTests
{
    [Theory]
    [InlineData("localhost:5080", true)]
    [InlineData("LOCALHOST", true)]
    [InlineData("app.localhost:5080", true)]
    [InlineData("127.0.0.1:5080", true)]
    [InlineData("127.0.0.2", true)]
    [InlineData("[::1]:5080", true)]
    [InlineData("", true)]
    [InlineData("evil.example", false)]
    [InlineData("evil.example:5080", false)]
    [InlineData("localhost.evil.example", false)]
    [InlineData("evillocalhost", false)]
    [InlineData("127.0.0.1.evil.example", false)]
    [InlineData("10.0.0.5:5080", false)]
    [InlineData("scheduler.example.test:5080", true)]
    [InlineData("SCHEDULER.example.test", true)]
    [InlineData("a.ops.example.test", true)]
    [InlineData("ops.example.test", false)]
    [InlineData("[fd00::1]:5080", true)]
    public void IsAllowed_HostWithConfiguredNames_AllowsLoopbackAndConfiguredOnly(string host, bool allowed)
    {
        var configured = new[] { "scheduler.example.test", "*.ops.example.test", "fd00::1" };

        Assert.Equal(allowed, LoopbackHosts.IsAllowed(new HostString(host) is { HasValue: true } h ? h.Host : null, configured));
    }

    [Theory]
    [InlineData("scheduler.example.test")]
    [InlineData("*.example.test")]
    [InlineData("10.0.0.5")]
    [InlineData("[fd00::1]")]
    [InlineData("fd00::1")]
    public void SettingProblem_HostName_None(string entry) => Assert.Null(LoopbackHosts.SettingProblem(entry));

    [Theory]
    [InlineData("*", "Admin:ApiKeys")]
    [InlineData("", "empty")]
    [InlineData("http://scheduler.example.test", "without scheme")]
    [InlineData("scheduler.example.test:5080", "without scheme, port")]
    [InlineData("scheduler.example.test/x", "without scheme, port or path")]
    public void SettingProblem_NotAHostName_SaysWhatIsAllowed(string entry, string expected) =>
        Assert.Contains(expected, LoopbackHosts.SettingProblem(entry));
}
