using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Api;

/// <summary>
/// What JSON bodies can make a node hold: a real node process (its own heap and resident memory) is sent
/// hostile and maximal bodies at once, and its peak resident set stays within the bound docs/security.md gives.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class JsonBodyMemoryTests
{
    /// <summary>The documented bound (docs/security.md, "Limits") for a node sent the requests below at once.</summary>
    private const long PeakBoundBytes = 400L * 1024 * 1024;

    [Fact]
    public async Task ReadAsync_FourHostileAndFourMaximalBodiesAtOnce_KeepTheNodesPeakMemoryWithinTheBound()
    {
        using var database = new SqliteTestDatabase();
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Storage:Provider"] = "Sqlite",
            ["Storage:ConnectionString"] = database.ConnectionString,
            ["Cluster:Role"] = "api",
            ["Demo:SeedItems"] = "false",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["DataTypes:plain:Executor"] = "noop",
        });
        node.Http.Timeout = TimeSpan.FromMinutes(3);
        (await node.Http.GetAsync("/api/health")).EnsureSuccessStatusCode();
        var before = PeakResidentBytes(node.ProcessId);

        // The issue's attack: 25 MB (under Kestrel's 30 MB default) of 12.5M array elements in one payload.
        var hostile = Encoding.ASCII.GetBytes("{\"payload\":[" + string.Join(',', Enumerable.Repeat('0', 12_500_000)) + "]}");
        // The most a bulk registration may be: 128 items of 61,000-character payloads (under 65,536 each),
        // 7.8 MB (under 8 MiB) and 243,000 values (under 250,000).
        byte[] Maximal(int request) => Encoding.ASCII.GetBytes("{\"dataType\":\"plain\",\"items\":[" + string.Join(',', Enumerable.Range(0, 128).Select(i =>
            $"{{\"entityId\":\"max-{request}-{i}\",\"payload\":{{\"s\":\"{new string('x', 57_000)}\",\"a\":[{string.Join(',', Enumerable.Repeat('0', 1_900))}]}}}}")) + "]}");

        var requests = Enumerable.Range(0, 4).Select(async i =>
        {
            // Two declare their length, two are chunked (their size is found while reading).
            HttpContent content = i % 2 == 0 ? new ByteArrayContent(hostile) : new StreamContent(new UnseekableStream(hostile));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            try
            {
                using var response = await node.Http.PutAsync($"/api/work-items/plain/hostile-{i}", content);
                return (Name: $"hostile {i}", StatusCode: response.StatusCode);
            }
            catch (HttpRequestException ex) when (ex.InnerException is IOException)
            {
                // Refused before the client finished sending: the node answered and closed the connection.
                return (Name: $"hostile {i}", StatusCode: HttpStatusCode.RequestEntityTooLarge);
            }
            finally
            {
                content.Dispose();
            }
        }).Concat(Enumerable.Range(0, 4).Select(async i =>
        {
            using var content = new ByteArrayContent(Maximal(i));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await node.Http.PostAsync("/api/work-items", content);
            return (Name: $"maximal {i}", StatusCode: response.StatusCode);
        }));
        var answers = await Task.WhenAll(requests);

        var peak = PeakResidentBytes(node.ProcessId);
        Assert.All(answers, a => Assert.True((int)a.StatusCode < 500, $"{a.Name}: {(int)a.StatusCode}"));
        Assert.All(answers.Where(a => a.Name.StartsWith("maximal", StringComparison.Ordinal)), a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        Assert.True(peak <= PeakBoundBytes,
            $"The node peaked at {peak / 1_048_576} MB resident ({before / 1_048_576} MB before the requests); the documented bound is {PeakBoundBytes / 1_048_576} MB.");
    }

    /// <summary>A stream with no length, so HttpClient sends it chunked.</summary>
    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }

    /// <summary>VmHWM: the most the process has had resident since it started.</summary>
    private static long PeakResidentBytes(int processId)
    {
        var line = File.ReadLines($"/proc/{processId}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}
