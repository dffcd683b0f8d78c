using BatchScheduler.Configuration;
using BatchScheduler.Outbound;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Outbound;

/// <summary>The outbound rule on its own: which URLs it refuses under which settings, and why.</summary>
public sealed class OutboundPolicyTests
{
    private static OutboundPolicy Policy(bool loopback = true, bool privateNetworks = true, params string[] allowedHosts) =>
        new(Options.Create(new OutboundOptions { AllowLoopback = loopback, AllowPrivateNetworks = privateNetworks, AllowedHosts = allowedHosts }));

    [Theory]
    [InlineData("http://169.254.169.254/latest/", "metadata")]
    [InlineData("http://2852039166/latest/", "metadata")] // 169.254.169.254 written as one number
    [InlineData("http://0xA9FEA9FE/", "metadata")]
    [InlineData("http://[::ffff:a9fe:a9fe]/", "metadata")]
    [InlineData("http://169.254.0.1/", "link-local")]
    [InlineData("http://[fe80::1%25eth0]/", "link-local")]
    [InlineData("http://METADATA.google.internal./x", "metadata")]
    [InlineData("http://224.0.0.1/", "unicast")]
    [InlineData("ftp://example.org/x", "http or https")]
    [InlineData("/relative", "http or https")]
    public void Refusal_AlwaysRefusedTargets_SayWhy(string url, string reason)
    {
        var refusal = Policy().Refusal(url);

        Assert.NotNull(refusal);
        Assert.Contains(reason, refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://hooks.example.com/done")]
    [InlineData("http://127.0.0.1:5080/hook")]
    [InlineData("http://localhost:5080/hook")]
    [InlineData("http://10.0.0.5/hook")]
    [InlineData("http://[fd12::1]/hook")]
    [InlineData("https://203.0.113.7/hook")]
    public void Refusal_DefaultSettings_AllowPublicPrivateAndLoopbackTargets(string url) =>
        Assert.Null(Policy().Refusal(url));

    [Theory]
    [InlineData("http://127.0.0.1/hook", "AllowLoopback")]
    [InlineData("http://localhost/hook", "AllowLoopback")]
    [InlineData("http://[::1]/hook", "AllowLoopback")]
    [InlineData("http://192.168.1.1/hook", "AllowPrivateNetworks")]
    [InlineData("http://172.20.0.1/hook", "AllowPrivateNetworks")]
    [InlineData("http://[fd12::1]/hook", "AllowPrivateNetworks")]
    public void Refusal_SwitchesOff_RefuseNamingTheSetting(string url, string setting)
    {
        var refusal = Policy(loopback: false, privateNetworks: false).Refusal(url);

        Assert.NotNull(refusal);
        Assert.Contains(setting, refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://hooks.example.com/x", true)]
    [InlineData("https://HOOKS.example.com./x", true)]
    [InlineData("https://a.partners.example.com/x", true)]
    [InlineData("https://partners.example.com/x", false)]
    [InlineData("https://evilpartners.example.com/x", false)]
    [InlineData("https://hooks.example.com.evil.test/x", false)]
    [InlineData("http://203.0.113.7/x", true)]
    [InlineData("http://203.0.113.8/x", false)]
    public void Refusal_AllowedHosts_OnlyTheNamedHosts(string url, bool allowed)
    {
        var refusal = Policy(true, true, "hooks.example.com", "*.partners.example.com", "203.0.113.7").Refusal(url);

        Assert.Equal(allowed, refusal is null);
        if (!allowed)
            Assert.Contains("AllowedHosts", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void Refusal_MetadataAddressListedInAllowedHosts_IsStillRefused() =>
        Assert.NotNull(Policy(true, true, "169.254.169.254").Refusal("http://169.254.169.254/"));
}
