using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Cli;
using BatchScheduler.Hosting;
using BatchScheduler.Observability;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Executors.BuiltIn;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;

namespace BatchScheduler.Tests.Observability;

/// <summary>
/// The executable's telemetry settings: the console log as JSON (<c>Logging:Console:Format</c>) and the
/// OTLP export of the engine's spans (<c>OpenTelemetry:Otlp</c>), switched on by configuration alone.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class NodeTelemetryTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly string[] NonInformationLevels = ["Verbose", "Debug", "Warning", "Error", "Fatal"];

    private readonly SqliteTestDatabase _database = new();

    public void Dispose()
    {
        if (Directory.Exists(_database.DirectoryPath))
            _database.Dispose();
    }

    [Fact]
    public async Task Run_ConsoleFormatJson_WritesEachEventOnceAsACompactJsonObjectWithTheNodeId()
    {
        Directory.CreateDirectory(_database.DirectoryPath);
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = _database.ConnectionString,
            ["Cluster:NodeId"] = "json-node",
            ["Demo:SeedItems"] = "false",
            ["DataTypes:t:Executor"] = "noop",
            ["Logging:Console:Format"] = "json",
        });
        using (var put = await node.Http.PutAsJsonAsync("/api/work-items/t/j-1", new { }))
            put.EnsureSuccessStatusCode();
        await Eventually.TrueAsync(() => Task.FromResult(node.Output.Split('\n').Any(l =>
            l.Contains("\"@m\":\"Completed ", StringComparison.Ordinal) && l.Contains("\"EntityId\":\"j-1\"", StringComparison.Ordinal))),
            Wait, "t/j-1 should complete");
        await node.StopAsync(Wait);

        var lines = node.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var events = lines.Select(line =>
        {
            using var json = JsonDocument.Parse(line); // throws on a line that is not JSON, naming it
            return json.RootElement.Clone();
        }).ToList();
        Assert.All(events, e =>
        {
            Assert.Equal(JsonValueKind.Object, e.ValueKind);
            Assert.True(DateTimeOffset.TryParse(e.GetProperty("@t").GetString(), out _));
            Assert.False(string.IsNullOrEmpty(e.GetProperty("@m").GetString()));
            Assert.Equal("json-node", e.GetProperty("NodeId").GetString());
            if (e.TryGetProperty("@l", out var level)) // CLEF leaves it out for Information
                Assert.Contains(level.GetString(), NonInformationLevels);
        });
        // Serilog's rendering quotes string values in @m; the values themselves are properties.
        Assert.Single(events, e => e.GetProperty("@m").GetString()!.StartsWith("Now listening on: \"http://127.0.0.1:", StringComparison.Ordinal));
        var completed = Assert.Single(events, e => e.GetProperty("@m").GetString()!.StartsWith("Completed ", StringComparison.Ordinal)
            && e.TryGetProperty("EntityId", out var id) && id.GetString() == "j-1");
        Assert.Equal("t", completed.GetProperty("DataType").GetString());
        Assert.Equal(1, completed.GetProperty("Attempt").GetInt32());
    }

    [Fact]
    public async Task Run_UnknownConsoleFormat_Exits2NamingTheSetting()
    {
        var (exitCode, output) = await NodeProcess.RunUntilExitAsync(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = _database.ConnectionString,
            ["Logging:Console:Format"] = "xml",
        });

        Assert.Equal(NodeRunner.BadSettings, exitCode);
        Assert.Contains("Logging:Console:Format must be 'text' or 'json' (was 'xml').", output, StringComparison.Ordinal);
        Assert.False(File.Exists(_database.FilePath));
    }

    [Theory]
    [InlineData("Logging:Console:Format=yaml", "Logging:Console:Format must be 'text' or 'json' (was 'yaml').")]
    [InlineData("Logging:Console:Formatt=json", "Unknown setting 'Logging:Console:Formatt'; did you mean 'Logging:Console:Format'?")]
    [InlineData("OpenTelemetry:Otlp:Endpoint=localhost:4317",
        "OpenTelemetry:Otlp:Endpoint must be an absolute http or https URL such as http://127.0.0.1:4317 (was 'localhost:4317').")]
    [InlineData("OpenTelemetry:Otlp:Endpoint=http://127.0.0.1:4318/v1/traces|OpenTelemetry:Otlp:Protocol=http",
        "OpenTelemetry:Otlp:Protocol must be 'grpc' or 'http/protobuf' (was 'http').")]
    [InlineData("OpenTelemetry:Otlp:Endpont=http://127.0.0.1:4317", "Unknown setting 'OpenTelemetry:Otlp:Endpont'; did you mean 'OpenTelemetry:Otlp:Endpoint'?")]
    public async Task Start_InvalidTelemetrySetting_RefusesNamingTheSetting(string overrides, string message)
    {
        await using var app = Build(overrides + "|urls=http://127.0.0.1:0");

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());

        Assert.Contains(message, exception.Failures);
        Assert.False(File.Exists(_database.FilePath));
    }

    [Fact]
    public async Task OtlpEndpoint_ExportsTheAttemptSpansThere_AndWithoutOneNothingIsExported()
    {
        await using (var plain = Build(""))
            Assert.Null(plain.Services.GetService<TracerProvider>()); // no endpoint: no tracing added behind the app's back

        await using var collector = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 200));
        var entityId = $"otlp-{Guid.NewGuid():N}";
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, _database.ConnectionString, new Dictionary<string, string?>
        {
            ["DataTypes:t:Executor"] = "noop",
            ["OpenTelemetry:Otlp:Endpoint"] = collector.BaseUrl + "v1/traces",
            ["OpenTelemetry:Otlp:Protocol"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100", // the batch processor's standard setting: export within 0.1 s
        });

        await node.PutAsync("t", entityId, new { });

        // Protobuf keeps strings as UTF-8 bytes: the span's name, tags and service name are readable in the body.
        await Eventually.TrueAsync(() => Task.FromResult(collector.Received.Any(r => r.Body.Contains(entityId, StringComparison.Ordinal))),
            Wait, "the attempt's span should be exported to the collector");
        var export = collector.Received.First(r => r.Body.Contains(entityId, StringComparison.Ordinal));
        Assert.Equal("POST", export.Method);
        Assert.Equal("/v1/traces", export.RawUrl);
        Assert.Equal("application/x-protobuf", export.ContentType);
        Assert.Contains("attempt t", export.Body, StringComparison.Ordinal);
        Assert.Contains("batchscheduler.outcome", export.Body, StringComparison.Ordinal);
        Assert.Contains(NodeTelemetry.ServiceName, export.Body, StringComparison.Ordinal);
    }

    /// <summary>A node (not started) with valid settings and <paramref name="overrides"/> ("key=value|key=value").</summary>
    private Microsoft.AspNetCore.Builder.WebApplication Build(string overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = _database.ConnectionString,
            ["Cluster:NodeId"] = "telemetry-test",
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
        });
    }
}
