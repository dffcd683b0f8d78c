using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using BatchScheduler.Batches;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Api;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace BatchScheduler.Tests.Batches;

/// <summary>
/// Batches from files on real nodes and databases: every record is accounted for (succeeded,
/// failed, invalid with its line, expired or cancelled), and the lifecycle, callback and archive
/// work as the README says.
/// </summary>
public sealed class BatchTests
{
    private const string DataType = "rows";

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:CheckinInterval"] = "00:00:01",
            [$"DataTypes:{DataType}:Executor"] = "batch-test",
            [$"DataTypes:{DataType}:Cadence:once"] = "",
            [$"DataTypes:{DataType}:Retry:MaxRetryAttempts"] = "0",
            ["Batches:MonitorInterval"] = "00:00:00.200",
            ["Batches:MaxRecordBytes"] = "1024",
        };
        foreach (var (key, value) in extra)
            settings[key] = value;
        return settings;
    }

    private static async Task<JsonElement> SubmitAsync(TestNode node, HttpContent content, string query = "")
    {
        using var response = await node.Http.PostAsync($"/api/batches?dataType={DataType}{query}", content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static ByteArrayContent File(string contentType, byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    private static ByteArrayContent Jsonl(params string[] lines) => File("application/x-ndjson", Encoding.UTF8.GetBytes(string.Join('\n', lines) + "\n"));

    private static async Task<JsonElement> BatchAsync(TestNode node, string id) =>
        await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}");

    /// <summary>Waits until the batch has its final outcome (every record settled) and returns it.</summary>
    private static async Task<JsonElement> WaitForOutcomeAsync(TestNode node, string id, TimeSpan timeout)
    {
        JsonElement batch = default;
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                batch = await BatchAsync(node, id);
                return batch.GetProperty("outcome").ValueKind == JsonValueKind.String && batch.GetProperty("pending").GetInt32() == 0;
            }, timeout, $"batch {id} should end with every record settled");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} (last seen: {batch})", ex);
        }
        return batch;
    }

    private static async Task<List<JsonElement>> ListAsync(TestNode node, string path) =>
        (await node.Http.GetFromJsonAsync<List<JsonElement>>(path))!;

    [Fact]
    public async Task AJsonlFileOf100000Records_RunsEachOnceOnTwoNodes_AndTheAccountsBalanceById()
    {
        const int records = 100_000;
        await using var database = await PostgresTestDatabase.CreateAsync();
        var executor = new BatchExecutor(); // shared by both nodes: it sees every execution in the cluster
        await using var node = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString,
            Settings(("Cluster:MaxConcurrency", "16")), s => s.AddExecutor("batch-test", executor));
        await using var other = await TestNode.StartAsync(StorageProvider.Postgres, database.ConnectionString,
            Settings(("Cluster:MaxConcurrency", "16")), s => s.AddExecutor("batch-test", executor));
        var path = Path.Combine(Path.GetTempPath(), $"batch-{Guid.NewGuid():N}.jsonl");
        try
        {
            await using (var writer = new StreamWriter(path, append: false, new UTF8Encoding(false)))
            {
                for (var i = 0; i < records; i++)
                    await writer.WriteAsync($"{{\"entityId\":\"e{i:000000}\",\"n\":{i}}}\n");
            }
            await using var file = System.IO.File.OpenRead(path);
            using var content = new StreamContent(file);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            var submitted = await SubmitAsync(node, content);
            var id = submitted.GetProperty("id").GetString()!;
            Assert.Equal("in_progress", submitted.GetProperty("status").GetString());
            Assert.Equal(records, submitted.GetProperty("total").GetInt32());

            // Counting in memory first: polling the batch's counts every 50 ms for minutes would load the database.
            await Eventually.TrueAsync(() => Task.FromResult(executor.Calls.Count >= records), TimeSpan.FromMinutes(8), "every record runs");
            var batch = await WaitForOutcomeAsync(node, id, TimeSpan.FromMinutes(1));
            Assert.Equal("completed", batch.GetProperty("status").GetString());
            Assert.Equal(records, batch.GetProperty("succeeded").GetInt32());
            Assert.Equal(0, batch.GetProperty("failed").GetInt32() + batch.GetProperty("invalid").GetInt32());

            Assert.Equal(records, executor.Calls.Count);
            Assert.Equal(records, executor.Calls.Distinct().Count());
            await using (var connection = new NpgsqlConnection(database.ConnectionString))
            {
                await connection.OpenAsync();
                await using var nodes = new NpgsqlCommand("SELECT COUNT(DISTINCT node_id) FROM work_items WHERE batch_id = @id", connection);
                nodes.Parameters.AddWithValue("id", id);
                Assert.Equal(2L, await nodes.ExecuteScalarAsync()); // both nodes ran the batch's items
            }
            var results = await ListAsync(node, $"/api/batches/{id}/results");
            Assert.Equal(records, results.Count);
            Assert.Equal(executor.Calls.Order(StringComparer.Ordinal), results.Select(r => r.GetProperty("entityId").GetString()!).Order(StringComparer.Ordinal));
            Assert.Empty(await ListAsync(node, $"/api/batches/{id}/errors"));
            var verification = (await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}/audit")).GetProperty("verification");
            Assert.True(verification.GetProperty("balanced").GetBoolean(), verification.ToString());
            Assert.True(verification.GetProperty("final").GetBoolean(), verification.ToString());
            Assert.Equal(records, verification.GetProperty("records").GetInt32());
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task ACsvWithBrokenLines_ReportsEachByLineNumber_RunsTheRest_AndBalances(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var executor = new BatchExecutor { FailFor = "a9" };
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", executor));

        var csv = new MemoryStream();
        void Line(string text) => csv.Write(Encoding.UTF8.GetBytes(text + "\n"));
        Line("entityId,tier,price");                   // 1 header
        Line("a1,,10");                                // 2 valid
        Line("a2,,11,extra");                          // 3 too many fields
        Line("a3,,\"12\"x");                           // 4 bad quoting
        Line(",,13");                                  // 5 no entity id
        Line("a1,,14");                                // 6 duplicate of line 2
        Line("a5,weekly,15");                          // 7 unknown tier
        csv.Write([(byte)'a', (byte)'6', (byte)',', (byte)',', 0xFF, 0xFE, (byte)'\n']); // 8 invalid UTF-8
        Line("a7,,16");                                // 9 valid
        Line("a8,,\"multi");                           // 10 valid, a quoted field over two lines
        Line("line\"");                                // 11
        Line("a9,,17");                                // 12 valid, its executor fails: dead-lettered
        Line($"a10,,{new string('x', 2000)}");         // 13 over Batches:MaxRecordBytes
        var submitted = await SubmitAsync(node, File("text/csv", csv.ToArray()));
        var id = submitted.GetProperty("id").GetString()!;

        var batch = await WaitForOutcomeAsync(node, id, TimeSpan.FromMinutes(1));
        Assert.Equal("partial_success", batch.GetProperty("status").GetString());
        Assert.Equal(11, batch.GetProperty("total").GetInt32());
        Assert.Equal(3, batch.GetProperty("succeeded").GetInt32());
        Assert.Equal(1, batch.GetProperty("failed").GetInt32());
        Assert.Equal(7, batch.GetProperty("invalid").GetInt32());

        var results = await ListAsync(node, $"/api/batches/{id}/results");
        Assert.Equal([2L, 9L, 10L], results.Select(r => r.GetProperty("line").GetInt64()));
        Assert.Equal(["a1", "a7", "a8"], results.Select(r => r.GetProperty("entityId").GetString()));
        var errors = (await ListAsync(node, $"/api/batches/{id}/errors")).ToDictionary(e => e.GetProperty("line").GetInt64());
        Assert.Equal([3L, 4L, 5L, 6L, 7L, 8L, 12L, 13L], errors.Keys.Order());
        string Reason(long line) => errors[line].GetProperty("reason").GetString()!;
        Assert.Contains("fields", Reason(3), StringComparison.OrdinalIgnoreCase);
        Assert.False(string.IsNullOrWhiteSpace(Reason(4)));
        Assert.Contains("entity", Reason(5), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("line 2", Reason(6), StringComparison.Ordinal);
        Assert.Contains("weekly", Reason(7), StringComparison.Ordinal);
        Assert.Contains("UTF-8", Reason(8), StringComparison.Ordinal);
        Assert.Equal("failed", errors[12].GetProperty("outcome").GetString());
        Assert.Contains("a9 refused", Reason(12), StringComparison.Ordinal);
        Assert.Contains("1024", Reason(13), StringComparison.Ordinal);
        Assert.All(errors.Values.Where(e => e.GetProperty("line").GetInt64() != 12), e => Assert.Equal("invalid", e.GetProperty("outcome").GetString()));
        Assert.Equal(["a1", "a7", "a8", "a9"], executor.Calls.Order(StringComparer.Ordinal));
        var item = await node.Http.GetFromJsonAsync<JsonElement>($"/api/work-items/{DataType}/a8");
        Assert.Equal("""{"price":"multi\nline"}""", item.GetProperty("payload").GetRawText());
        Assert.Equal(id, item.GetProperty("batchId").GetString());

        var audit = await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}/audit");
        var verification = audit.GetProperty("verification");
        Assert.True(verification.GetProperty("balanced").GetBoolean(), verification.ToString());
        Assert.True(verification.GetProperty("final").GetBoolean(), verification.ToString());
        Assert.Equal("text/csv", audit.GetProperty("parameters").GetProperty("contentType").GetString());
        Assert.Equal(csv.Length, audit.GetProperty("parameters").GetProperty("bytes").GetInt64());
    }

    [Fact]
    public async Task AJsonlFile_RejectsMalformedDuplicateAndUnknownRecords_LineByLine()
    {
        using var database = new SqliteTestDatabase();
        var executor = new BatchExecutor();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", executor));
        var submitted = await SubmitAsync(node, Jsonl(
            """{"entityId":"j1","price":1}""",
            """{"entityId":"j2",""",
            """{"entityId":"j1","price":2}""",
            """{"entityId":"j3","dataType":"no-such-type"}""",
            """[1,2,3]""",
            "",
            """{"entityId":"j4"}"""));
        var id = submitted.GetProperty("id").GetString()!;
        Assert.Equal(6, submitted.GetProperty("total").GetInt32()); // the blank line is not a record
        Assert.Equal(4, submitted.GetProperty("invalid").GetInt32());

        var batch = await WaitForOutcomeAsync(node, id, TimeSpan.FromMinutes(1));
        Assert.Equal("partial_success", batch.GetProperty("status").GetString());
        var errors = (await ListAsync(node, $"/api/batches/{id}/errors")).ToDictionary(e => e.GetProperty("line").GetInt64());
        Assert.Equal([2L, 3L, 4L, 5L], errors.Keys.Order());
        Assert.Contains("JSON", errors[2].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Contains("line 1", errors[3].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Equal("j1", errors[3].GetProperty("entityId").GetString());
        Assert.Contains("no-such-type", errors[4].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Contains("object", errors[5].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Equal(["j1", "j4"], executor.Calls.Order(StringComparer.Ordinal));
        var first = await node.Http.GetFromJsonAsync<JsonElement>($"/api/work-items/{DataType}/j1");
        Assert.Equal("""{"price":1}""", first.GetProperty("payload").GetRawText());
    }

    [Theory]
    [InlineData("cancel")]
    [InlineData("deadline")]
    public async Task EndingABatchMidRun_RemovesItsPendingItems_LetsRunningOnesFinish_AndAccountsForAll(string how)
    {
        const int records = 20;
        using var database = new SqliteTestDatabase();
        var executor = new BatchExecutor { Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(("Cluster:MaxConcurrency", "2")), s => s.AddExecutor("batch-test", executor));
        var deadline = how == "deadline" ? $"&deadline={Uri.EscapeDataString(TimeProvider.System.GetUtcNow().AddSeconds(4).ToString("O"))}" : "";
        var submitted = await SubmitAsync(node, Jsonl(Enumerable.Range(0, records).Select(i => $$"""{"entityId":"m{{i:00}}"}""").ToArray()), deadline);
        var id = submitted.GetProperty("id").GetString()!;
        await Eventually.TrueAsync(() => Task.FromResult(executor.Calls.Count == 2), TimeSpan.FromSeconds(30), "two items start (MaxConcurrency 2)");

        if (how == "cancel")
        {
            using var cancel = await node.Http.PostAsync($"/api/batches/{id}/cancel", null);
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            Assert.Equal("cancelled", (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
            using var again = await node.Http.PostAsync($"/api/batches/{id}/cancel", null);
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }
        else
        {
            await Eventually.TrueAsync(async () => (await BatchAsync(node, id)).GetProperty("status").GetString() == "expired",
                TimeSpan.FromSeconds(30), "the batch expires at its deadline");
        }
        // Pending items are gone (row and trigger); the two running ones remain until they finish.
        IReadOnlyList<BatchScheduler.WorkItems.WorkItem> rows = [];
        await Eventually.TrueAsync(async () =>
        {
            (rows, _) = await node.Store.ListAsync(new BatchScheduler.WorkItems.WorkItemQuery(DataType, null, null, 1, 100), CancellationToken.None);
            return rows.Count <= 2;
        }, TimeSpan.FromSeconds(10), "the pending items are removed");
        Assert.Equal(2, rows.Count);
        Assert.All(rows, r => Assert.Equal("in_flight", r.State));
        executor.Gate.SetResult();

        var batch = await WaitForOutcomeAsync(node, id, TimeSpan.FromSeconds(30));
        var ended = how == "cancel" ? "cancelled" : "expired";
        Assert.Equal(ended, batch.GetProperty("status").GetString());
        Assert.Equal(2, batch.GetProperty("succeeded").GetInt32());
        Assert.Equal(records - 2, batch.GetProperty(ended).GetInt32());
        Assert.Equal(records - 2, batch.GetProperty("failed").GetInt32()); // failed in the summary: not succeeded
        var errors = await ListAsync(node, $"/api/batches/{id}/errors");
        Assert.Equal(records - 2, errors.Count);
        Assert.All(errors, e => Assert.Equal(ended, e.GetProperty("outcome").GetString()));
        Assert.Equal(2, executor.Calls.Count);
        // The two that ran were one-shot: Quartz deletes their triggers when it completes their firings,
        // just after the coordinator wrote their ends (which is what settles their records).
        await Eventually.TrueAsync(async () => await TriggerCountAsync(node) == 0, TimeSpan.FromSeconds(10), "no trigger is left for the batch's items");
    }

    [Fact]
    public async Task AJsonlFileWithLoneSurrogateEscapes_FailsThoseRecordsOneByOne_AndRunsTheRest()
    {
        using var database = new SqliteTestDatabase();
        var executor = new BatchExecutor();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", executor));
        var submitted = await SubmitAsync(node, Jsonl(
            """{"entityId":"s1"}""",
            """{"entityId":"\udfff"}""",
            """{"entityId":"s3","note":"\ud800"}""",
            """{"entityId":"s4","note":"fine"}"""));
        var id = submitted.GetProperty("id").GetString()!;
        Assert.Equal("in_progress", submitted.GetProperty("status").GetString());
        Assert.Equal(4, submitted.GetProperty("total").GetInt32());
        Assert.Equal(2, submitted.GetProperty("invalid").GetInt32());

        var batch = await WaitForOutcomeAsync(node, id, TimeSpan.FromMinutes(1));
        Assert.Equal("partial_success", batch.GetProperty("status").GetString());
        var errors = (await ListAsync(node, $"/api/batches/{id}/errors")).ToDictionary(e => e.GetProperty("line").GetInt64());
        Assert.Equal([2L, 3L], errors.Keys.Order());
        Assert.All(errors.Values, e => Assert.Contains("valid Unicode", e.GetProperty("reason").GetString()!, StringComparison.Ordinal));
        Assert.Equal(["s1", "s4"], executor.Calls.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(StorageProvider.Sqlite)]
    [InlineData(StorageProvider.Postgres)]
    public async Task AJsonlFileWithNulInItsFields_FailsThoseRecordsOneByOne_AndEchoesThemStorably(StorageProvider provider)
    {
        using var sqlite = new SqliteTestDatabase();
        await using var postgres = provider == StorageProvider.Postgres ? await PostgresTestDatabase.CreateAsync() : null;
        var executor = new BatchExecutor();
        await using var node = await TestNode.StartAsync(provider, postgres?.ConnectionString ?? sqlite.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", executor));
        var submitted = await SubmitAsync(node, Jsonl(
            """{"entityId":"n1"}""",
            """{"entityId":"n\u0000two"}""",
            """{"entityId":"n3","dataType":"no\u0000such"}""",
            """{"entityId":"n4","tier":"gold\u0000"}""",
            """{"entityId":"n5","note":"the text rule refuses U+0000 in a payload too: \u0000"}"""));
        var id = submitted.GetProperty("id").GetString()!;
        Assert.Equal(5, submitted.GetProperty("total").GetInt32());
        Assert.Equal(4, submitted.GetProperty("invalid").GetInt32());

        var batch = await WaitForOutcomeAsync(node, id, TimeSpan.FromMinutes(1));
        Assert.Equal("partial_success", batch.GetProperty("status").GetString());
        var errors = (await ListAsync(node, $"/api/batches/{id}/errors")).ToDictionary(e => e.GetProperty("line").GetInt64());
        Assert.Equal([2L, 3L, 4L, 5L], errors.Keys.Order());
        Assert.Contains("entityId contains U+0000", errors[2].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Contains("dataType contains U+0000", errors[3].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Contains("tier contains U+0000", errors[4].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Contains("payload.note", errors[5].GetProperty("reason").GetString()!, StringComparison.Ordinal);
        Assert.Equal(["n1"], executor.Calls.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task AnUploadThatDiesOnAnErrorOfTheNode_EndsItsBatchAtOnce_WithTheReason()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", new BatchExecutor()));
        var service = node.App.Services.GetRequiredService<BatchService>();
        Assert.True(node.App.Services.GetRequiredService<BatchScheduler.WorkItems.DataTypeCatalog>().TryGet(DataType, out var rows));
        var id = Guid.NewGuid().ToString("N");
        var body = new FailingStream(Encoding.UTF8.GetBytes("{\"entityId\":\"d1\"}\n{\"entityId\":\"d2\"}\n"), new InvalidOperationException("the test's disk is on fire"));

        await Assert.ThrowsAnyAsync<Exception>(() => service.SubmitAsync(
            id, rows!, BatchFormat.Jsonl, "application/x-ndjson", body, null, null, CancellationToken.None));

        var batch = await BatchAsync(node, id); // at once: no monitor round, no waiting for the 10 minutes of an abandoned upload
        Assert.Equal("failed", batch.GetProperty("status").GetString());
        var error = batch.GetProperty("error").GetString()!;
        Assert.Contains("the test's disk is on fire", error, StringComparison.Ordinal);
        Assert.Contains("InvalidOperationException", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheCompletionCallback_IsRetriedUntilDelivered_AndReceivedOnceWithTheCounts()
    {
        using var database = new SqliteTestDatabase();
        await using var hook = await WebhookReceiver.StartAsync(failFirst: 1);
        var executor = new BatchExecutor();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(("Batches:CallbackMaxDelay", "00:00:01")), s => s.AddExecutor("batch-test", executor));
        var submitted = await SubmitAsync(node, Jsonl("""{"entityId":"c1"}""", """{"entityId":"c2"}""", "not json", """{"entityId":"c3"}"""),
            $"&callbackUrl={Uri.EscapeDataString(hook.Url)}");
        var id = submitted.GetProperty("id").GetString()!;

        await Eventually.TrueAsync(async () =>
            (await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}/audit")).GetProperty("callback").GetProperty("deliveredAt").ValueKind == JsonValueKind.String,
            TimeSpan.FromSeconds(30), "the callback is delivered");
        // More rounds of every node's monitor: nothing is sent again.
        var monitor = node.App.Services.GetRequiredService<BatchMonitor>();
        await monitor.RoundAsync(CancellationToken.None);
        await monitor.RoundAsync(CancellationToken.None);

        Assert.Equal(2, hook.Requests.Count); // one refused with 500, one delivered
        var delivered = hook.Requests.Last();
        Assert.Equal(id, delivered.IdempotencyKey);
        Assert.Equal(id, delivered.Body.GetProperty("id").GetString());
        Assert.Equal("partial_success", delivered.Body.GetProperty("status").GetString());
        Assert.Equal(4, delivered.Body.GetProperty("total").GetInt32());
        Assert.Equal(3, delivered.Body.GetProperty("succeeded").GetInt32());
        Assert.Equal(1, delivered.Body.GetProperty("invalid").GetInt32());
        Assert.Equal(0, delivered.Body.GetProperty("pending").GetInt32());
        var callback = (await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}/audit")).GetProperty("callback");
        Assert.Equal(2, callback.GetProperty("attempts").GetInt32());
    }

    [Fact]
    public async Task AfterTheRetention_ABatchIsArchived_ItsItemsPruned_AndItsOutputsKept()
    {
        using var database = new SqliteTestDatabase();
        var executor = new BatchExecutor();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(("Batches:Retention", "00:00:01")), s => s.AddExecutor("batch-test", executor));
        var submitted = await SubmitAsync(node, Jsonl("""{"entityId":"r1"}""", """{"entityId":"r2"}""", """{"entityId":"r3"}"""));
        var id = submitted.GetProperty("id").GetString()!;

        JsonElement batch = default;
        await Eventually.TrueAsync(async () => (batch = await BatchAsync(node, id)).GetProperty("status").GetString() == "archived",
            TimeSpan.FromSeconds(30), "the batch is archived after its retention");
        Assert.Equal("completed", batch.GetProperty("outcome").GetString());
        Assert.Equal(3, batch.GetProperty("succeeded").GetInt32());
        var (rows, total) = await node.Store.ListAsync(new BatchScheduler.WorkItems.WorkItemQuery(DataType, null, null, 1, 100), CancellationToken.None);
        Assert.Equal(0, total);
        Assert.Empty(rows);
        Assert.Equal(["r1", "r2", "r3"], (await ListAsync(node, $"/api/batches/{id}/results")).Select(r => r.GetProperty("entityId").GetString()));
        var verification = (await node.Http.GetFromJsonAsync<JsonElement>($"/api/batches/{id}/audit")).GetProperty("verification");
        Assert.True(verification.GetProperty("balanced").GetBoolean() && verification.GetProperty("final").GetBoolean(), verification.ToString());
    }

    [Fact]
    public async Task BadSubmissions_GetAClearError_AndAFileWithoutAnEntityIdColumnFailsItsBatch()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", new BatchExecutor()));

        async Task<string> Refused(string query, HttpContent content, HttpStatusCode expected)
        {
            using var response = await node.Http.PostAsync($"/api/batches{query}", content);
            return await ApiResponses.ProblemDetailAsync(response, expected);
        }
        Assert.Contains("no-such", await Refused("?dataType=no-such", Jsonl("""{"entityId":"x"}"""), HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("dataType", await Refused("", Jsonl("""{"entityId":"x"}"""), HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("text/csv", await Refused($"?dataType={DataType}", File("text/plain", "x"u8.ToArray()), HttpStatusCode.UnsupportedMediaType), StringComparison.Ordinal);
        Assert.Contains("deadline", await Refused($"?dataType={DataType}&deadline=tomorrow", Jsonl("""{"entityId":"x"}"""), HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("passed", await Refused($"?dataType={DataType}&deadline=2020-01-01T00:00:00Z", Jsonl("""{"entityId":"x"}"""), HttpStatusCode.BadRequest), StringComparison.Ordinal);
        Assert.Contains("callbackUrl", await Refused($"?dataType={DataType}&callbackUrl=ftp://example.org/x", Jsonl("""{"entityId":"x"}"""), HttpStatusCode.BadRequest), StringComparison.Ordinal);

        using var noColumn = await node.Http.PostAsync($"/api/batches?dataType={DataType}", File("text/csv", "name,price\nx,1\n"u8.ToArray()));
        var detail = await ApiResponses.ProblemDetailAsync(noColumn, HttpStatusCode.BadRequest);
        Assert.Contains("entityId", detail, StringComparison.Ordinal);
        var page = await node.Http.GetFromJsonAsync<JsonElement>("/api/batches?status=failed");
        var batch = Assert.Single(page.GetProperty("batches").EnumerateArray());
        Assert.Contains("entityId", batch.GetProperty("error").GetString()!, StringComparison.Ordinal);

        var empty = await SubmitAsync(node, File("application/x-ndjson", []));
        Assert.Equal("failed", empty.GetProperty("status").GetString());
        Assert.Equal(0, empty.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task SubmitWait_AgainstARealNode_ExitsZeroOnlyWhenTheBatchCompleted()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString,
            Settings(), s => s.AddExecutor("batch-test", new BatchExecutor()));
        var directory = Directory.CreateTempSubdirectory("bs-submit-");
        try
        {
            async Task<(int Code, string Output, string Error)> Submit(string name, string contents, string dataType = DataType)
            {
                var path = Path.Combine(directory.FullName, name);
                await System.IO.File.WriteAllTextAsync(path, contents);
                var output = new StringWriter();
                var error = new StringWriter();
                var options = new BatchScheduler.Cli.Submit.SubmitOptions
                {
                    FilePath = path, DataType = dataType, Wait = true, Url = node.Http.BaseAddress!, PollInterval = TimeSpan.FromMilliseconds(100),
                };
                var code = await BatchScheduler.Cli.Submit.SubmitCommand.RunAsync(options, node.Http, output, error, interactive: false, CancellationToken.None);
                return (code, output.ToString(), error.ToString());
            }

            var completed = await Submit("good.jsonl", "{\"entityId\":\"w1\"}\n{\"entityId\":\"w2\"}\n");
            Assert.True(completed.Code == 0, $"{completed.Code}: {completed.Output} {completed.Error}");
            Assert.Contains("completed", completed.Output, StringComparison.Ordinal);
            var partial = await Submit("broken.csv", "entityId,price\nw3,1\n,2\n");
            Assert.True(partial.Code == 1, $"{partial.Code}: {partial.Output} {partial.Error}");
            Assert.Contains("partial_success", partial.Output + partial.Error, StringComparison.Ordinal);
            var unknown = await Submit("good2.jsonl", "{\"entityId\":\"w4\"}\n", dataType: "no-such-type");
            Assert.True(unknown.Code == 2, $"{unknown.Code}: {unknown.Output} {unknown.Error}");
            Assert.Contains("no-such-type", unknown.Error, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static async Task<long> TriggerCountAsync(TestNode node)
    {
        var connections = node.App.Services.GetRequiredService<ConnectionFactory>();
        await using var connection = await connections.OpenAsync(CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM qrtz_triggers WHERE trigger_group = '{DataType}'";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Gives its bytes, then fails the next read with <paramref name="failure"/>, as a broken upload would.</summary>
    private sealed class FailingStream(byte[] data, Exception failure) : ReadOnlyStream
    {
        private int _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position == data.Length)
                throw failure;
            var n = Math.Min(count, data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == data.Length)
                throw failure;
            var n = Math.Min(buffer.Length, data.Length - _position);
            data.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return ValueTask.FromResult(n);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Records the entity ids it runs; fails for <see cref="FailFor"/>; waits at <see cref="Gate"/> when set.</summary>
    private sealed class BatchExecutor : IWorkItemExecutor
    {
        public ConcurrentQueue<string> Calls { get; } = new();

        public string? FailFor { get; init; }

        public TaskCompletionSource? Gate { get; init; }

        public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
        {
            Calls.Enqueue(context.EntityId);
            if (Gate is not null)
                await Gate.Task.WaitAsync(cancellationToken);
            if (context.EntityId == FailFor)
                throw new InvalidOperationException($"{context.EntityId} refused by the test");
        }
    }
}
