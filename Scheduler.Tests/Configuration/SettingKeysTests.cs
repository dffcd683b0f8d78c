using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Hosting;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Configuration;

/// <summary>A key under BatchScheduler's own sections that nothing reads stops the node, naming the key it probably meant.</summary>
[Trait("Provider", "Sqlite")]
public sealed class SettingKeysTests : IDisposable
{
    private readonly SqliteTestDatabase _database = new();

    public void Dispose()
    {
        if (Directory.Exists(_database.DirectoryPath))
            _database.Dispose();
    }

    /// <summary>A valid node's settings with <paramref name="overrides"/> ("key=value|key=value") applied.</summary>
    private WebApplication BuildWith(string overrides, Action<IServiceCollection>? services = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = _database.ConnectionString,
            ["Cluster:NodeId"] = "settings-test",
            ["DataTypes:x:Executor"] = "noop",
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        foreach (var pair in overrides.Split('|', StringSplitOptions.RemoveEmptyEntries))
        {
            var at = pair.IndexOf('=');
            settings[pair[..at]] = pair[(at + 1)..];
        }
        return NodeHost.Build([], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(settings);
            services?.Invoke(b.Services);
        });
    }

    private static void ResolveKeys(WebApplication app) => _ = app.Services.GetRequiredService<IOptions<SettingKeysOptions>>().Value;

    [Theory]
    [InlineData("Cluster:MaxConcurency=4", "Cluster:MaxConcurency", "Cluster:MaxConcurrency")]
    [InlineData("Cluster:maxconcurency=4", "Cluster:maxconcurency", "Cluster:MaxConcurrency")] // environment variables arrive in any case
    [InlineData("BulkActions:ChunkSise=10", "BulkActions:ChunkSise", "BulkActions:ChunkSize")]
    [InlineData("DataTypes:x:Retry:MaxRetryAttemps=2", "DataTypes:x:Retry:MaxRetryAttemps", "DataTypes:x:Retry:MaxRetryAttempts")]
    [InlineData("DataTypes:x:Retri:MaxRetryAttempts=2", "DataTypes:x:Retri", "DataTypes:x:Retry")]
    [InlineData("DataTypes:x:Htp:Url=http://127.0.0.1/{entityId}", "DataTypes:x:Htp", "DataTypes:x:Http")]
    [InlineData("DataTypes:x:Demo:Duraton=00:00:01", "DataTypes:x:Demo:Duraton", "DataTypes:x:Demo:Duration")]
    [InlineData("DataTypes:x:QuietHours:0:From=22:00|DataTypes:x:QuietHours:0:To=06:00|DataTypes:x:QuietHours:0:Dayz:0=Mon",
        "DataTypes:x:QuietHours:0:Dayz", "DataTypes:x:QuietHours:0:Days")]
    [InlineData("Vendors:acme:Credits=5|Vendors:acme:Windw=00:01:00", "Vendors:acme:Windw", "Vendors:acme:Window")]
    [InlineData("Admin:ApiKeys:0:Key=0123456789abcdef|Admin:ApiKeys:0:Rol=admin", "Admin:ApiKeys:0:Rol", "Admin:ApiKeys:0:Role")]
    public void UnknownKey_CloseToAKnownOne_FailsNamingTheKeyItProbablyMeant(string overrides, string unknown, string meant)
    {
        using var app = BuildWith(overrides);

        var exception = Assert.Throws<OptionsValidationException>(() => ResolveKeys(app));

        Assert.Equal([$"Unknown setting '{unknown}'; did you mean '{meant}'?"], exception.Failures);
    }

    [Theory]
    [InlineData("Demo:Whatever=1", "Unknown setting 'Demo:Whatever'; the settings of 'Demo' are SeedItems, ItemsPerDataType.")]
    [InlineData("Alerts:Enabled=true", "Unknown setting 'Alerts:Enabled'; the settings of 'Alerts' are WebhookUrl, FailureRateThreshold, FailureRateWindow, FailureRateMinExecutions.")]
    [InlineData("Cluster:MaxConcurrency:Per=2", "Unknown setting 'Cluster:MaxConcurrency:Per'; 'Cluster:MaxConcurrency' has no setting by that name: remove it.")]
    public void UnknownKey_NoCloseMatch_FailsListingTheKnownOnes(string overrides, string message)
    {
        using var app = BuildWith(overrides);

        var exception = Assert.Throws<OptionsValidationException>(() => ResolveKeys(app));

        Assert.Equal([message], exception.Failures);
    }

    [Fact]
    public async Task UnknownKey_OnStart_RefusesToStartBeforeItTouchesTheStore()
    {
        await using var app = BuildWith("Cluster:MaxConcurency=4|urls=http://127.0.0.1:0");

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("Unknown setting 'Cluster:MaxConcurency'; did you mean 'Cluster:MaxConcurrency'?", exception.Failures);
        Assert.False(File.Exists(_database.FilePath));
    }

    [Fact]
    public void KeysOfSectionsBatchSchedulerDoesNotOwn_AreNotChecked()
    {
        using var app = BuildWith("Logging:LogLevel:Defaultt=Debug|Serilog:MinimumLevl=Debug|Kestrel:Endpoints:web:Url=http://127.0.0.1:0" +
            "|AllowedHosts=*|urls=http://127.0.0.1:0|Clustr:MaxConcurrency=1|HOME=/root");

        ResolveKeys(app);
    }

    [Fact]
    public void SectionNamedAfterACustomExecutor_IsLeftToTheExecutor()
    {
        using var app = BuildWith("DataTypes:x:Executor=custom|DataTypes:x:Custom:Anything=1|DataTypes:x:Custom:Nested:Deeper=2",
            services => services.AddExecutor<RecordingExecutor>("custom"));

        ResolveKeys(app);
    }

    [Fact]
    public void ShippedFile_HasNoUnknownKey()
    {
        using var app = NodeHost.Build([$"--Storage:ConnectionString={_database.ConnectionString}"]);

        ResolveKeys(app);
    }
}
