using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// Docs are tested: the shell blocks of README.md and docs/*.md that send requests to a node run
/// against a real one (SQLite, the shipped appsettings.json with its demo data types and demo
/// items, as <c>dotnet run --project Scheduler</c> starts it) and answer what the docs say.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class ReadmeExamplesTests(ITestOutputHelper log)
{
    /// <summary>The blocks run, in this order, against one node: later ones rely on what earlier ones did.</summary>
    private static readonly string[] Run =
    [
        // Try it against the running node: register, list, triage, run now, pause/resume, delete.
        "README.md › Run it and test it › B=http://127.0.0.1:5080",
        // The same from the command line: Scheduler pause|resume, in-process.
        "README.md › Run it and test it › dotnet run --project Scheduler -- pause vendor-feed --reason \"vendor outage, ticket 4711\"",
        // Cancel of a running attempt (202, or 409 when daily-prices/AAPL, registered above, is not running), then resume.
        "README.md › Timeouts and cancel › B=http://127.0.0.1:5080",
        // Batches from files: the files, submit --wait (exit 1), the same over HTTP, results, errors, audit, cancel.
        "README.md › Batches from files › B=http://127.0.0.1:5080",
        // Bulk actions: count, pause, resume, retry by filter, and a refused filter.
        "README.md › Bulk actions › B=http://127.0.0.1:5080",
        // The loopback rule's example POST.
        "docs/security.md › The rules (no keys, loopback caller) › curl -s -X POST -H 'X-Requested-With: curl' http://127.0.0.1:5080/api/work-items/vendor-feed/feed-broken/run",
    ];

    /// <summary>
    /// Blocks that send requests to a node but are not run here, each with why. Blocks that only
    /// start nodes, build or test (the run/test pair, settings, the PostgreSQL cluster, migrate,
    /// benchmarks, docs/operations.md's deployment, the fuzz test) send no request and are not listed.
    /// </summary>
    private static readonly Dictionary<string, string> Skipped = new()
    {
        ["README.md › Batches from files › cat > doses.csv <<'CSV'"] =
            "the batch registers its records in the background, so the GETs right after the POST race that registration; "
            + "Batches/BatchRunAtReadmeTests takes this block's file, request and answers from the README and checks them against a node, waiting for the registration",
        ["README.md › Metrics › curl -H \"Authorization: Bearer $VIEWER_KEY\" http://127.0.0.1:5080/metrics"] =
            "needs a node with Admin:ApiKeys and a viewer key, which would take the loopback admin role every other example relies on; "
            + "Observability/MetricsAccessTests sends the same bearer header to such a node",
    };

    /// <summary>Sections of appsettings.json the test node sets itself: its own SQLite file, node id and concurrency, log level.</summary>
    private static readonly string[] NodeOwnSections = ["Storage", "Cluster", "Serilog"];

    [Fact]
    public void RequestBlocks_AreEachRunOrSkippedWithAReason()
    {
        var blocks = DocBlocks().Where(b => b.CallsANode).Select(b => b.Name).ToList();
        var unlisted = blocks.Except(Run).Except(Skipped.Keys).ToList();
        Assert.True(unlisted.Count == 0,
            "These blocks send requests to a node but are neither run nor skipped with a reason (ReadmeExamplesTests.Run, .Skipped):\n"
            + string.Join("\n", unlisted));
        var gone = Run.Concat(Skipped.Keys).Except(blocks).ToList();
        Assert.True(gone.Count == 0, "These listed blocks are no longer in the docs (edited? list them by their new name):\n" + string.Join("\n", gone));
        Assert.All(Skipped, skip => Assert.False(string.IsNullOrWhiteSpace(skip.Value), $"{skip.Key} is skipped without a reason"));
    }

    [Fact]
    public async Task RequestBlocks_AgainstANodeWithTheShippedSettings_AnswerWhatTheDocsSay()
    {
        using var database = new SqliteTestDatabase();
        var directory = Directory.CreateTempSubdirectory("docs-examples-");
        try
        {
            await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, ShippedSettings());
            // The README speaks of a node that has run a moment: it marks failure 1 done, the first
            // failed attempt, which feed-broken (Demo:AlwaysFail) makes on its first run.
            await Eventually.TrueAsync(() => FailureExistsAsync(node, 1), TimeSpan.FromSeconds(30), "failure 1 should exist (feed-broken fails on its first run)");

            var runner = new ExampleRunner(node.Http.BaseAddress!.ToString().TrimEnd('/'), directory.FullName, log);
            var blocks = DocBlocks().ToDictionary(b => b.Name);
            foreach (var name in Run)
                await runner.RunAsync(blocks[name]);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static IEnumerable<ShellBlock> DocBlocks() =>
        new[] { "README.md" }
            .Concat(Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "docs"), "*.md").Order().Select(f => "docs/" + Path.GetFileName(f)))
            .SelectMany(file => ShellBlock.Read(RepositoryRoot.Path, file));

    /// <summary>appsettings.json as the node reads it, flattened to keys, but for the sections the test node sets.</summary>
    private static Dictionary<string, string?> ShippedSettings() =>
        new ConfigurationBuilder().AddJsonFile(Path.Combine(RepositoryRoot.Path, "appsettings.json")).Build().AsEnumerable()
            .Where(setting => setting.Value is not null
                && !NodeOwnSections.Any(section => setting.Key.StartsWith(section + ":", StringComparison.OrdinalIgnoreCase)))
            .ToDictionary(setting => setting.Key, setting => setting.Value);

    private static async Task<bool> FailureExistsAsync(TestNode node, long id)
    {
        var page = await node.Http.GetFromJsonAsync<JsonElement>("/api/failures?pageSize=1000");
        return page.GetProperty("items").EnumerateArray().Any(failure => failure.GetProperty("id").GetInt64() == id);
    }
}
