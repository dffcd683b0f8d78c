using System.Text.Json;
using BatchScheduler.Configuration;
using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.Hosting;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using BatchScheduler.WorkItems;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Tests.Configuration;

/// <summary>
/// The shipped appsettings.json binds and validates, so the file users copy always works; a bad
/// setting stops the node with a message naming the key.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class AppSettingsTests : IDisposable
{
    private readonly SqliteTestDatabase _database = new();

    public void Dispose()
    {
        // SqliteTestDatabase.Dispose throws when its directory was never created, as it is not here
        // when a test refuses bad settings before the store is touched.
        if (Directory.Exists(_database.DirectoryPath))
            _database.Dispose();
    }

    private static void ResolveAllSettings(IServiceProvider services)
    {
        _ = services.GetRequiredService<IOptions<StorageOptions>>().Value;
        _ = services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        _ = services.GetRequiredService<IOptions<AdminOptions>>().Value;
        _ = services.GetRequiredService<IOptions<BatchOptions>>().Value;
        _ = services.GetRequiredService<IOptions<AlertOptions>>().Value;
        _ = services.GetRequiredService<IOptions<OutboundOptions>>().Value;
        _ = services.GetRequiredService<IOptions<RequestLimitsOptions>>().Value;
        _ = services.GetRequiredService<IOptions<VendorsOptions>>().Value;
        _ = services.GetRequiredService<IOptions<DataTypesOptions>>().Value;
        _ = services.GetRequiredService<DataTypeCatalog>();
        _ = services.GetRequiredService<IOptions<SettingKeysOptions>>().Value; // every key these tests set is one the node reads
    }

    [Fact]
    public async Task ShippedFile_BindsAndValidates_EveryDataTypeResolvesItsExecutor()
    {
        await using var app = NodeHost.Build([$"--Storage:ConnectionString={_database.ConnectionString}"]);

        ResolveAllSettings(app.Services);

        using var shipped = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "appsettings.json")));
        var dataTypes = shipped.RootElement.GetProperty("DataTypes").EnumerateObject().ToList();
        Assert.NotEmpty(dataTypes);
        var catalog = app.Services.GetRequiredService<DataTypeCatalog>();
        Assert.Equal(dataTypes.Select(d => d.Name).Order(StringComparer.Ordinal), catalog.All.Select(d => d.Name).Order(StringComparer.Ordinal));
        var executorTypes = new Dictionary<string, Type>
        {
            [BuiltInExecutors.Noop] = typeof(NoopExecutor),
            [BuiltInExecutors.Http] = typeof(HttpExecutor),
            [BuiltInExecutors.Demo] = typeof(DemoExecutor),
        };
        foreach (var dataType in dataTypes)
        {
            Assert.True(catalog.TryGet(dataType.Name, out var definition));
            var executor = dataType.Value.GetProperty("Executor").GetString()!;
            Assert.IsType(executorTypes[executor], definition.Executor);
        }
        Assert.Equal(_database.ConnectionString, app.Services.GetRequiredService<IOptions<StorageOptions>>().Value.ConnectionString);
    }

    [Fact]
    public async Task ShippedFile_ConfiguresTheDesignedSections()
    {
        await using var app = NodeHost.Build([$"--Storage:ConnectionString={_database.ConnectionString}"]);

        var storage = app.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
        var cluster = app.Services.GetRequiredService<IOptions<ClusterOptions>>().Value;
        Assert.Equal(StorageProvider.Sqlite, storage.Provider);
        Assert.Equal(NodeRoles.Worker, cluster.Role);
        Assert.Equal("auto", cluster.NodeId);
        var catalog = app.Services.GetRequiredService<DataTypeCatalog>();
        Assert.Contains(catalog.All, d => d.Options.Cadence.Count > 0);
        Assert.All(catalog.All, d => Assert.Empty(d.Options.Retry.Validate()));
    }

    /// <summary>A valid node's settings with <paramref name="overrides"/> ("key=value|key=value") applied.</summary>
    private WebApplication BuildWith(string overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = _database.ConnectionString,
            ["Cluster:NodeId"] = "settings-test",
            ["DataTypes:x:Executor"] = "noop",
            ["Serilog:MinimumLevel:Default"] = "Warning",
        };
        foreach (var pair in overrides.Split('|'))
        {
            var at = pair.IndexOf('=');
            settings[pair[..at]] = pair[(at + 1)..];
        }
        return NodeHost.Build([], b =>
        {
            b.Configuration.Sources.Clear();
            b.Configuration.AddInMemoryCollection(settings);
        });
    }

    [Fact]
    public async Task BaseSettings_WithoutOverrides_Validate()
    {
        await using var app = BuildWith("Cluster:Role=worker");

        ResolveAllSettings(app.Services);
    }

    [Theory]
    [InlineData("DataTypes:x:Executor=nope", "DataTypes:x:Executor", "nope")]
    [InlineData("DataTypes:x:Executor=", "DataTypes:x:Executor", "noop")]
    [InlineData("DataTypes:x:Retry:MaxRetryAttempts=-1", "DataTypes:x:Retry:MaxRetryAttempts", "-1")]
    [InlineData("DataTypes:x:Retry:MaxDelay=00:00:01|DataTypes:x:Retry:Delay=00:00:10", "DataTypes:x:Retry:MaxDelay", "00:00:01")]
    [InlineData("DataTypes:x:Executor=http", "DataTypes:x:Http:Url", "required")]
    [InlineData("DataTypes:x:Executor=http|DataTypes:x:Http:Url=ftp://host/{entityId}", "DataTypes:x:Http:Url", "ftp://host/{entityId}")]
    [InlineData("DataTypes:x:Cadence:first=00:01:00|DataTypes:x:DefaultTier=second", "DataTypes:x:DefaultTier", "second")]
    [InlineData("DataTypes:x:Cadence:exclude=00:01:00", "DataTypes:x:Cadence:exclude", "reserved")]
    [InlineData("DataTypes:x:Vendor=acme", "DataTypes:x:Vendor", "acme")]
    [InlineData("Vendors:acme:Credits=0|DataTypes:x:Vendor=acme", "Vendors:acme:Credits", "0")]
    [InlineData("Vendors:acme:Credits=5|Vendors:acme:Window=00:00:00.5", "Vendors:acme:Window", "00:00:00.5")]
    [InlineData("Vendors:acme:Credits=5|DataTypes:x:Vendor=acme|DataTypes:x:CreditsPerCall=6", "DataTypes:x:CreditsPerCall", "6")]
    [InlineData("DataTypes:x:DependsOn:0=nope", "DataTypes:x:DependsOn", "nope")]
    [InlineData("DataTypes:x:DependsOn:0=x", "DependsOn has a cycle", "x -> x")]
    [InlineData("DataTypes:x:DependsOn:0=y|DataTypes:y:Executor=noop|DataTypes:y:DependsOn:0=z|DataTypes:z:Executor=noop|DataTypes:z:DependsOn:0=x", "DependsOn has a cycle", "x -> y -> z -> x")]
    [InlineData("DataTypes:x:Expiry=-00:01:00", "DataTypes:x:Expiry", "positive")]
    [InlineData("DataTypes:x:TimeZone=Mars/Olympus_Mons", "DataTypes:x:TimeZone", "Mars/Olympus_Mons")]
    [InlineData("DataTypes:x:Cadence:daily=cron:0 0 25 * * ?", "DataTypes:x:Cadence:daily", "0 0 25 * * ?")]
    [InlineData("DataTypes:x:QuietHours:0:From=22:00|DataTypes:x:QuietHours:0:To=22:00", "DataTypes:x:QuietHours:0", "22:00")]
    [InlineData("DataTypes:x:QuietHours:0:From=25:00|DataTypes:x:QuietHours:0:To=07:00", "DataTypes:x:QuietHours:0:From", "25:00")]
    [InlineData("DataTypes:x:QuietHours:0:From=22:00|DataTypes:x:QuietHours:0:To=07:00|DataTypes:x:QuietHours:0:Days:0=Funday", "DataTypes:x:QuietHours:0:Days:0", "Funday")]
    [InlineData("DataTypes:x:QuietHours:0:From=22:00|DataTypes:x:QuietHours:0:To=07:00|DataTypes:x:Cadence:daily=1.00:00:00", "DataTypes:x:Cadence:daily", "cron")]
    [InlineData("DataTypes:bad name:Executor=noop", "DataTypes:bad name", "bad name")]
    [InlineData("Cluster:Role=boss", "Cluster:Role", "boss")]
    [InlineData("Cluster:MaxConcurrency=0", "Cluster:MaxConcurrency", "0")]
    [InlineData("Cluster:CheckinInterval=00:00:00.100", "Cluster:CheckinInterval", "00:00:00.1")]
    [InlineData("Storage:Provider=Postgres|Storage:ConnectionString=Host=localhost;NoSuchKeyword=1", "Storage:ConnectionString", "Postgres")]
    [InlineData("Storage:ConnectionString= ", "Storage:ConnectionString", "empty")]
    [InlineData("Admin:ApiKeys:0:Key=short|Admin:ApiKeys:0:Role=admin", "Admin:ApiKeys:0:Key", "8 characters")]
    [InlineData("Admin:ApiKeys:0:Key=long-enough-key|Admin:ApiKeys:0:Role=root", "Admin:ApiKeys:0:Role", "root")]
    [InlineData("Admin:ApiKeys:0:Key=same-key-twice|Admin:ApiKeys:1:Key=same-key-twice", "Admin:ApiKeys", "more than once")]
    [InlineData("Admin:AllowedHosts:0=*", "Admin:AllowedHosts:0", "Admin:ApiKeys")]
    [InlineData("Admin:ApiKeys:0:Key=long-enough-key|Admin:ApiKeys:0:Name=ops alice", "Admin:ApiKeys:0:Name", "'ops alice'")]
    [InlineData("Admin:ApiKeys:0:Key=long-enough-key|Admin:ApiKeys:0:Name=", "Admin:ApiKeys:0:Name", "''")]
    [InlineData("Admin:ApiKeys:0:Key=long-enough-key|Admin:ApiKeys:0:Name=a123456789b123456789c123456789d123456789e123456789f123456789g1234", "Admin:ApiKeys:0:Name", "g1234")]
    [InlineData("Admin:ApiKeys:0:Key=long-enough-key|Admin:ApiKeys:0:Name=Loopback", "Admin:ApiKeys:0:Name", "reserved")]
    [InlineData("Admin:ApiKeys:0:Key=first-key-123|Admin:ApiKeys:0:Name=ops|Admin:ApiKeys:1:Key=second-key-123|Admin:ApiKeys:1:Name=OPS", "Admin:ApiKeys", "keys 0, 1 are all named 'ops'")]
    [InlineData("Admin:ApiKeys:0:Key=first-key-123|Admin:ApiKeys:0:Name=key-1|Admin:ApiKeys:1:Key=second-key-123", "Admin:ApiKeys", "named 'key-1'")]
    [InlineData("Admin:AllowedHosts:0=http://scheduler.example.test:5080", "Admin:AllowedHosts:0", "http://scheduler.example.test:5080")]
    [InlineData("Batches:MaxRecordBytes=100", "Batches:MaxRecordBytes", "100")]
    [InlineData("Batches:Retention=00:00:00", "Batches:Retention", "00:00:00")]
    [InlineData("Batches:MonitorInterval=00:10:00", "Batches:MonitorInterval", "00:10:00")]
    [InlineData("Alerts:WebhookUrl=ftp://x", "Alerts:WebhookUrl", "ftp://x")]
    [InlineData("Alerts:WebhookUrl=/relative/hook", "Alerts:WebhookUrl", "/relative/hook")]
    [InlineData("Alerts:WebhookUrl=http://169.254.169.254/hook", "Alerts:WebhookUrl", "169.254.169.254")]
    [InlineData("Alerts:WebhookUrl=http://metadata.google.internal/hook", "Alerts:WebhookUrl", "metadata")]
    [InlineData("Alerts:WebhookUrl=http://[fe80::1]/hook", "Alerts:WebhookUrl", "link-local")]
    [InlineData("Outbound:AllowPrivateNetworks=false|Alerts:WebhookUrl=http://10.0.0.7/hook", "Alerts:WebhookUrl", "AllowPrivateNetworks")]
    [InlineData("Outbound:AllowedHosts:0=hooks.example.com|Alerts:WebhookUrl=https://other.example.com/hook", "Alerts:WebhookUrl", "AllowedHosts")]
    [InlineData("Outbound:AllowedHosts:0=http://hooks.example.com/", "Outbound:AllowedHosts:0", "http://hooks.example.com/")]
    [InlineData("Alerts:FailureRateThreshold=0", "Alerts:FailureRateThreshold", "0")]
    [InlineData("Alerts:FailureRateThreshold=1.5", "Alerts:FailureRateThreshold", "1.5")]
    [InlineData("Alerts:FailureRateWindow=00:00:30", "Alerts:FailureRateWindow", "00:00:30")]
    [InlineData("Alerts:FailureRateWindow=2.00:00:00", "Alerts:FailureRateWindow", "2.00:00:00")]
    [InlineData("Alerts:FailureRateMinExecutions=0", "Alerts:FailureRateMinExecutions", "0")]
    [InlineData("RequestLimits:MaxBodyBytes=1000", "RequestLimits:MaxBodyBytes", "1000")]
    [InlineData("RequestLimits:MaxBulkBodyBytes=300000|RequestLimits:MaxBodyBytes=400000", "RequestLimits:MaxBulkBodyBytes", "300000")]
    [InlineData("RequestLimits:MaxBulkItems=0", "RequestLimits:MaxBulkItems", "0")]
    [InlineData("RequestLimits:MaxJsonValues=10", "RequestLimits:MaxJsonValues", "10")]
    // Issue 22: concurrency limits and node pools.
    [InlineData("DataTypes:x:MaxConcurrency=0", "DataTypes:x:MaxConcurrency", "0")]
    [InlineData("DataTypes:x:MaxConcurrencyPerNode=-2", "DataTypes:x:MaxConcurrencyPerNode", "-2")]
    [InlineData("Cluster:DataTypes:0=nope", "Cluster:DataTypes:0", "nope")]
    [InlineData("DataTypes:null:Executor=noop|DataTypes:null:MaxConcurrency=2", "DataTypes:null", "rename")]
    public async Task InvalidSetting_OnResolve_ThrowsValidationNamingTheKeyAndValue(string overrides, string key, string value)
    {
        await using var app = BuildWith(overrides);

        var exception = Assert.Throws<OptionsValidationException>(() => ResolveAllSettings(app.Services));

        Assert.Contains(exception.Failures, f => f.Contains(key, StringComparison.Ordinal) && f.Contains(value, StringComparison.Ordinal));
        Assert.Contains(key, exception.Message);
    }

    [Theory]
    [InlineData("DataTypes:x:Retry:Delay=soon", "DataTypes:x:Retry:Delay")]
    [InlineData("DataTypes:x:Retry:BackoffType=Sideways", "DataTypes:x:Retry:BackoffType")]
    [InlineData("DataTypes:x:Expiry=an hour", "DataTypes:x:Expiry")]
    [InlineData("DataTypes:x:Cadence:first=soon", "DataTypes:x:Cadence:first")]
    [InlineData("Vendors:acme:Window=soon", "Vendors:acme:Window")]
    [InlineData("DataTypes:x:MaxConcurrency=three", "DataTypes:x:MaxConcurrency")]
    public async Task UnparsableValue_InNamedSection_ThrowsNamingTheKey(string overrides, string key)
    {
        await using var app = BuildWith(overrides);

        var exception = Assert.Throws<InvalidOperationException>(() => ResolveAllSettings(app.Services));

        Assert.Contains(key, exception.Message);
    }

    [Theory]
    [InlineData("Cluster:MaxConcurrency=many", "Cluster:MaxConcurrency")]
    [InlineData("Cluster:CheckinInterval=often", "Cluster:CheckinInterval")]
    [InlineData("Cluster:SetBasedFiring=maybe", "Cluster:SetBasedFiring")]
    [InlineData("Storage:Provider=Oracle", "Storage:Provider")]
    [InlineData("Storage:MigrateOnStart=sometimes", "Storage:MigrateOnStart")]
    public void UnparsableValue_ReadWhileComposing_ThrowsOnBuildNamingTheKey(string overrides, string key)
    {
        var exception = Assert.Throws<InvalidOperationException>(() => BuildWith(overrides));

        Assert.Contains(key, exception.Message);
    }

    [Fact]
    public async Task InvalidSetting_OnStart_StopsTheNodeBeforeItTouchesTheStore()
    {
        await using var app = BuildWith("DataTypes:x:Executor=nope|urls=http://127.0.0.1:0");

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("DataTypes:x:Executor", exception.Message);
        Assert.False(File.Exists(_database.FilePath), "a node with invalid settings must not create or migrate its database");
    }
}
