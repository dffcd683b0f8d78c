using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BatchScheduler.Alerts;
using BatchScheduler.Batches;
using BatchScheduler.Outbound;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace BatchScheduler.Tests.Outbound;

/// <summary>
/// Batch callbacks and the alert webhook go only where the outbound policy allows: a callbackUrl
/// naming a link-local or metadata address is refused with a 400 at submission, and a name that
/// resolves to one is refused at connection time, with the reason recorded; allowed targets work.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class OutboundTargetTests
{
    private const string DataType = "rows";

    /// <summary>Stands for DNS: the names the tests use and the addresses they resolve to.</summary>
    private sealed class FakeDns(Dictionary<string, IPAddress> names) : HostResolver
    {
        public override Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
            names.TryGetValue(host, out var address) ? Task.FromResult(new[] { address }) : base.ResolveAsync(host, cancellationToken);
    }

    private static readonly FakeDns Dns = new(new()
    {
        ["hooks.rebound.test"] = IPAddress.Parse("169.254.169.254"),
        ["hooks.allowed.test"] = IPAddress.Loopback,
    });

    private static Task<TestNode> StartAsync(SqliteTestDatabase database, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:CheckinInterval"] = "00:00:01",
            [$"DataTypes:{DataType}:Executor"] = "noop",
            [$"DataTypes:{DataType}:Cadence:once"] = "",
            ["Batches:MonitorInterval"] = "00:00:00.200",
        };
        foreach (var (key, value) in extra)
            settings[key] = value;
        return TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, settings, s => s.AddSingleton<HostResolver>(Dns));
    }

    private static ByteArrayContent Jsonl(string line)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(line + "\n"));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        return content;
    }

    private static Task<HttpResponseMessage> SubmitAsync(TestNode node, string callbackUrl) =>
        node.Http.PostAsync($"/api/batches?dataType={DataType}&callbackUrl={Uri.EscapeDataString(callbackUrl)}", Jsonl("""{"entityId":"a"}"""));

    private static async Task<JsonElement> AuditAsync(TestNode node, string id) =>
        await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}/audit");

    [Theory]
    [InlineData("http://169.254.169.254/latest/meta-data/iam/")]
    [InlineData("http://169.254.10.1:8080/hook")]
    [InlineData("http://[fe80::1]/hook")]
    [InlineData("http://[fd00:ec2::254]/hook")]
    [InlineData("http://[::ffff:169.254.169.254]/hook")]
    [InlineData("http://metadata.google.internal/computeMetadata/v1/")]
    [InlineData("http://0.0.0.0:5000/hook")]
    [InlineData("file:///etc/passwd")]
    public async Task Submit_CallbackUrlLinkLocalOrMetadata_Answers400NamingCallbackUrl(string callbackUrl)
    {
        using var database = new SqliteTestDatabase();
        await using var node = await StartAsync(database);

        using var response = await SubmitAsync(node, callbackUrl);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("callbackUrl", detail, StringComparison.Ordinal);
        Assert.Empty((await node.Http.GetFromJsonAsync<JsonElement>("/api/batches")).GetProperty("batches").EnumerateArray());
    }

    [Theory]
    [InlineData("Outbound:AllowPrivateNetworks", "false", "http://10.1.2.3/hook", "AllowPrivateNetworks")]
    [InlineData("Outbound:AllowLoopback", "false", "http://127.0.0.1:9/hook", "AllowLoopback")]
    [InlineData("Outbound:AllowedHosts:0", "hooks.example.com", "https://other.example.com/hook", "AllowedHosts")]
    public async Task Submit_CallbackUrlOutsideTheConfiguredPolicy_Answers400NamingTheSetting(string key, string value, string callbackUrl, string setting)
    {
        using var database = new SqliteTestDatabase();
        await using var node = await StartAsync(database, (key, value));

        using var response = await SubmitAsync(node, callbackUrl);

        var detail = await ApiResponses.ProblemDetailAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("callbackUrl", detail, StringComparison.Ordinal);
        Assert.Contains(setting, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Callback_NameResolvingToMetadataAddress_IsRefusedAtConnectAndRecorded()
    {
        using var database = new SqliteTestDatabase();
        await using var hook = await WebhookReceiver.StartAsync();
        await using var node = await StartAsync(database);
        var port = new Uri(hook.Url).Port;

        using var response = await SubmitAsync(node, $"http://hooks.rebound.test:{port}/hook");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode); // a name: only its resolution can tell
        var id = (await ApiResponses.JsonAsync(response)).GetProperty("id").GetString()!;

        JsonElement callback = default;
        await Eventually.TrueAsync(async () => (callback = (await AuditAsync(node, id)).GetProperty("callback")).GetProperty("attempts").GetInt32() >= 1,
            TimeSpan.FromSeconds(30), "the callback is attempted");
        var error = callback.GetProperty("lastError").GetString();
        Assert.Contains("outbound policy", error, StringComparison.Ordinal);
        Assert.Contains("169.254.169.254", error, StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, callback.GetProperty("deliveredAt").ValueKind);
        Assert.Empty(hook.Requests);
    }

    [Fact]
    public async Task Callback_NameResolvingToAnAllowedAddress_IsDelivered()
    {
        using var database = new SqliteTestDatabase();
        await using var hook = await WebhookReceiver.StartAsync();
        await using var node = await StartAsync(database);
        var port = new Uri(hook.Url).Port;

        using var response = await SubmitAsync(node, $"http://hooks.allowed.test:{port}/hook");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await ApiResponses.JsonAsync(response)).GetProperty("id").GetString()!;

        await Eventually.TrueAsync(async () => (await AuditAsync(node, id)).GetProperty("callback").GetProperty("deliveredAt").ValueKind == JsonValueKind.String,
            TimeSpan.FromSeconds(30), "the callback is delivered");
        Assert.Equal(id, Assert.Single(hook.Requests).IdempotencyKey);
    }

    [Theory]
    [InlineData(AlertSender.HttpClientName)]
    [InlineData(BatchMonitor.HttpClientName)]
    public async Task OutboundClient_NameResolvingToMetadataAddress_ThrowsBeforeConnecting(string client)
    {
        using var database = new SqliteTestDatabase();
        await using var hook = await WebhookReceiver.StartAsync();
        await using var node = await StartAsync(database);
        var http = node.App.Services.GetRequiredService<IHttpClientFactory>().CreateClient(client);

        var exception = await Assert.ThrowsAsync<HttpRequestException>(() =>
            http.PostAsync($"http://hooks.rebound.test:{new Uri(hook.Url).Port}/hook", JsonContent.Create(new { kind = "test" })));

        Assert.Contains("outbound policy", exception.Message + exception.InnerException?.Message, StringComparison.Ordinal);
        Assert.Empty(hook.Requests);
        using var allowed = await http.PostAsync($"http://hooks.allowed.test:{new Uri(hook.Url).Port}/hook", JsonContent.Create(new { kind = "test" }));
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }
}
