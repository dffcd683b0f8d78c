using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api.Fuzz;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog.Core;
using Serilog.Events;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// Every operation of the node's own OpenAPI document, sent hostile values in each parameter and
/// body field (see <see cref="FuzzRequests"/>, <see cref="HostileValues"/>) by a same-origin admin
/// client (loopback, no keys). Fails on any 5xx, a JSON answer that does not parse, a node that stops
/// answering, stored text that is not valid Unicode or holds a NUL, and on any listing or item that
/// cannot be read back as valid JSON afterwards, or a stored item no URL can address. The random part of the inputs comes from a seed
/// (BATCHSCHEDULER_FUZZ_SEED, printed in the failure message), so a failure can be replayed.
/// </summary>
public sealed class HostileInputFuzzTests(ITestOutputHelper output)
{
    public const string SeedVariable = "BATCHSCHEDULER_FUZZ_SEED";

    /// <summary>The header a same-origin script sends (what the dashboard sends); state-changing requests without keys need it.</summary>
    public const string SameOriginHeader = "X-Requested-With";
    public const string SameOriginValue = "XMLHttpRequest";

    private const int DefaultSeed = 20;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var seed) ? seed : DefaultSeed;

    private sealed class ErrorSink : ILogEventSink
    {
        public ConcurrentQueue<LogEvent> Events { get; } = new();

        public void Emit(LogEvent logEvent)
        {
            if (logEvent.Level >= LogEventLevel.Error)
                Events.Enqueue(logEvent);
        }
    }

    [Fact]
    [Trait("Provider", "Sqlite")]
    public async Task EveryRoute_HostileInputs_NoServerErrorBrokenJsonStoredInvalidTextOrCrash_Sqlite()
    {
        using var database = new SqliteTestDatabase();
        await RunAsync(StorageProvider.Sqlite, database.ConnectionString);
    }

    [Fact]
    [Trait("Provider", "Postgres")]
    public async Task EveryRoute_HostileInputs_NoServerErrorBrokenJsonStoredInvalidTextOrCrash_Postgres()
    {
        await using var database = await PostgresTestDatabase.CreateAsync();
        await RunAsync(StorageProvider.Postgres, database.ConnectionString);
    }

    private async Task RunAsync(StorageProvider provider, string connectionString)
    {
        var seed = Seed;
        var sink = new ErrorSink();
        await using var node = await TestNode.StartAsync(provider, connectionString, new Dictionary<string, string?>
        {
            ["Cluster:Role"] = "api", // nothing executes: what is stored stays as the requests left it
            ["DataTypes:t:Executor"] = "noop",
            ["Batches:MonitorInterval"] = "00:00:00.200",
        }, s => s.AddSingleton<ILogEventSink>(sink));
        using var http = new HttpClient { BaseAddress = node.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Add(SameOriginHeader, SameOriginValue);
        var lifetime = node.App.Services.GetRequiredService<IHostApplicationLifetime>();

        // Something for the routes that address an item or a batch to find.
        using (var put = await http.PutAsync("/api/work-items/t/fuzz-base", Json("""{"payload":{"k":"v"}}""")))
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        string batchId;
        using (var batch = await http.PostAsync("/api/batches?dataType=t", new ByteArrayContent("{\"entityId\":\"fuzz-batch\"}\n"u8.ToArray())
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/x-ndjson") },
        }))
        {
            Assert.Equal(HttpStatusCode.Created, batch.StatusCode);
            batchId = (await ApiResponses.JsonAsync(batch)).GetProperty("id").GetString()!;
        }
        JsonElement document;
        using (var openApi = await http.GetAsync("/openapi/v1.json"))
            document = await ApiResponses.JsonAsync(openApi);

        var failures = new List<string>();
        var logged = new List<string>();
        var requests = new FuzzRequests(document, new Dictionary<string, string> { ["entityId"] = "fuzz-base", ["batchId"] = batchId }, seed).All().ToList();
        var operations = requests.Select(r => r.Operation).Distinct().Count();
        var clock = Stopwatch.StartNew();
        foreach (var request in requests)
        {
            sink.Events.Clear();
            var failure = await SendAsync(http, request);
            var errors = sink.Events.Select(e => $"{e.Exception?.GetType().Name}: {FirstLine(e.Exception?.Message ?? e.RenderMessage())}").ToList();
            if (failure is not null)
                failures.Add($"{request}: {failure}{(errors.Count > 0 ? $" (logged {errors[0]})" : "")}");
            logged.AddRange(errors.Select(e => $"{request}: logged {e}"));
            if (!await AliveAsync(http, lifetime))
            {
                failures.Add($"{request}: the node stopped answering /healthz");
                break;
            }
        }
        output.WriteLine($"{requests.Count} requests over {operations} operations in {clock.Elapsed.TotalSeconds:0.0} s (seed {seed})");

        // Afterwards, everything stored is readable: every listing page, every item, every batch and its files.
        failures.AddRange(await ReadBackAsync(http, provider, connectionString, batchId));
        failures.AddRange((await StoredText.ProblemsAsync(provider, connectionString)).Select(p => $"stored invalid text: {p}"));
        output.WriteLine($"done in {clock.Elapsed.TotalSeconds:0.0} s");
        foreach (var line in logged.Take(200))
            output.WriteLine(line);

        Assert.True(failures.Count == 0,
            $"{failures.Count} failures on {provider} with seed {seed} (replay: {SeedVariable}={seed}):\n" + string.Join("\n", failures.Take(400)));
    }

    /// <summary>Kestrel's default <c>MaxRequestLineSize</c>, in bytes: 8 KiB.</summary>
    private const int KestrelMaxRequestLine = 8 * 1024;

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Sends the request; null when the answer is acceptable, or what was wrong with it.</summary>
    private static async Task<string?> SendAsync(HttpClient http, FuzzRequest request)
    {
        using var message = new HttpRequestMessage(request.Method, request.PathAndQuery);
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(request.Body);
            if (request.ContentType is not null)
                message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType);
        }
        HttpResponseMessage response;
        string text;
        try
        {
            response = await http.SendAsync(message);
            text = await response.Content.ReadAsStringAsync();
        }
        catch (HttpRequestException ex) when (ex.InnerException is IOException && Encoding.UTF8.GetByteCount(request.PathAndQuery) > KestrelMaxRequestLine)
        {
            // A request line past Kestrel's limit is answered 414 and the connection closed as soon as the limit
            // is read: a client still writing the rest of a megabyte URL sees its write fail, not the answer.
            // That is a refusal (AliveAsync still checks the node answers), not a broken response.
            return null;
        }
        catch (HttpRequestException ex)
        {
            return $"broken response: {ex.Message} {FirstLine(ex.InnerException?.Message)}";
        }
        using (response)
            return Judge(response, text);
    }

    /// <summary>A 5xx or a JSON answer that does not parse is a failure.</summary>
    private static string? Judge(HttpResponseMessage response, string text)
    {
        var status = (int)response.StatusCode;
        if (status >= 500)
            return $"{status} {Detail(text)}";
        if (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true && text.Length > 0)
        {
            try
            {
                using var parsed = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 2000 });
            }
            catch (JsonException ex)
            {
                return $"{status} with broken JSON ({ex.Message}; {text.Length} chars, ends {StoredText.Printable(text[Math.Max(0, text.Length - 40)..])})";
            }
        }
        return null;
    }

    private static string Detail(string text)
    {
        try
        {
            using var problem = JsonDocument.Parse(text);
            return problem.RootElement.TryGetProperty("detail", out var detail) ? StoredText.Printable(detail.ToString()) : StoredText.Printable(text);
        }
        catch (JsonException)
        {
            return StoredText.Printable(text);
        }
    }

    private static string FirstLine(string? text) => text?.Split('\n')[0] ?? "";

    private static async Task<bool> AliveAsync(HttpClient http, IHostApplicationLifetime lifetime)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
            return false;
        try
        {
            using var health = await http.GetAsync("/healthz");
            return health.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>Reads back every listing page (numbered and keyset), every stored item (which must be addressable), and every batch with its files.</summary>
    private static async Task<List<string>> ReadBackAsync(HttpClient http, StorageProvider provider, string connectionString, string batchId)
    {
        var failures = new List<string>();
        async Task<JsonElement?> Read(string url)
        {
            try
            {
                using var response = await http.GetAsync(url);
                var text = await response.Content.ReadAsStringAsync();
                if (Judge(response, text) is { } failure)
                {
                    failures.Add($"read back GET {url}: {failure}");
                    return null;
                }
                return response.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(text).RootElement.Clone() : null;
            }
            catch (HttpRequestException ex)
            {
                failures.Add($"read back GET {url}: broken response: {ex.Message}");
                return null;
            }
        }

        for (var page = 1; page <= 100; page++)
        {
            if (await Read($"/api/work-items?page={page}&pageSize=100") is not { } listed || listed.GetProperty("items").GetArrayLength() == 0)
                break;
        }
        var after = "";
        for (var i = 0; i < 100; i++)
        {
            if (await Read($"/api/work-items?limit=100{after}") is not { } listed || listed.GetProperty("next").ValueKind != JsonValueKind.String)
                break;
            after = $"&after={Uri.EscapeDataString(listed.GetProperty("next").GetString()!)}";
        }
        // Every stored item can be addressed: its GET (ids percent-encoded, as a client writes them) answers that item.
        foreach (var (dataType, entityId) in (await StoredIdsAsync(provider, connectionString)).Take(5000))
        {
            var url = $"/api/work-items/{HostileValues.UrlEncode(dataType)}/{HostileValues.UrlEncode(entityId)}";
            var item = await Read(url);
            if (item is not { } found || found.ValueKind != JsonValueKind.Object || !found.TryGetProperty("entityId", out var id) || id.GetString() != entityId)
                failures.Add($"stored item {StoredText.Printable(dataType)}/{StoredText.Printable(entityId)} cannot be addressed: GET {url} does not answer it");
        }
        var batchIds = new List<string> { batchId };
        for (var page = 1; page <= 50; page++)
        {
            if (await Read($"/api/batches?page={page}&pageSize=100") is not { } listed || listed.GetProperty("batches").GetArrayLength() == 0)
                break;
            batchIds.AddRange(listed.GetProperty("batches").EnumerateArray().Select(b => b.GetProperty("id").GetString()!));
        }
        foreach (var id in batchIds.Distinct())
        {
            foreach (var part in new[] { "", "/results", "/errors", "/audit" })
                await Read($"/api/batches/{id}{part}");
        }
        for (var page = 1; page <= 50; page++)
        {
            if (await Read($"/api/failures?page={page}") is not { } listed || listed.GetProperty("items").GetArrayLength() == 0)
                break;
        }
        return failures;
    }

    /// <summary>The ids of the stored items, read from the table (the listings may be what is broken).</summary>
    private static async Task<List<(string DataType, string EntityId)>> StoredIdsAsync(StorageProvider provider, string connectionString)
    {
        await using System.Data.Common.DbConnection connection = provider == StorageProvider.Sqlite
            ? new Microsoft.Data.Sqlite.SqliteConnection(connectionString)
            : new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT data_type, entity_id FROM work_items ORDER BY data_type, entity_id";
        await using var reader = await command.ExecuteReaderAsync();
        var ids = new List<(string, string)>();
        while (await reader.ReadAsync())
            ids.Add((reader.GetString(0), reader.GetString(1)));
        return ids;
    }
}
