using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Storage;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// Docs are tested: every shell block of README.md and docs/*.md runs, file by file, against a real
/// node of its own (SQLite, the shipped appsettings.json with its demo data types and demo items, as
/// <c>dotnet run --project Scheduler</c> starts it) and answers what the docs say; a block that cannot
/// run here says why on the line above its fence (<see cref="ShellBlock.SkipMarker"/>), and those stay few.
/// </summary>
[Trait("Provider", "Sqlite")]
public sealed class DocsExamplesTests(ITestOutputHelper log)
{
    /// <summary>
    /// The most blocks that may be left out, across all the docs. Each needs what a test node is not:
    /// a node that runs until Ctrl+C, a PostgreSQL of its own, a benchmark run, an API key.
    /// </summary>
    private const int MaxSkipped = 10;

    /// <summary>Sections of appsettings.json the test node sets itself: its own SQLite file, node id and concurrency, log level.</summary>
    private static readonly string[] NodeOwnSections = ["Storage", "Cluster", "Serilog"];

    /// <summary>README.md and docs/*.md (docs/packages/ holds the packages' own READMEs, shipped in the packages).</summary>
    public static IReadOnlyList<string> Files() =>
        ["README.md", .. Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "docs"), "*.md").Order(StringComparer.Ordinal).Select(f => "docs/" + Path.GetFileName(f))];

    public static TheoryData<string> DocFiles() => new(Files());

    [Theory]
    [MemberData(nameof(DocFiles))]
    public async Task ShellBlocks_RunAsWritten_AnswerWhatTheDocsSay(string file)
    {
        var blocks = ShellBlock.Read(RepositoryRoot.Path, file).Where(b => b.SkipReason is null).ToList();
        if (blocks.Count == 0)
            return;
        var directory = Directory.CreateTempSubdirectory("docs-examples-");
        try
        {
            if (!blocks.Any(b => b.CallsANode))
            {
                var offline = new ExampleRunner("http://127.0.0.1:9", directory.FullName, log);
                foreach (var block in blocks)
                    await offline.RunAsync(block);
                return;
            }
            using var database = new SqliteTestDatabase();
            await using var node = await TestNode.StartAsync(StorageProvider.Sqlite, database.ConnectionString, ShippedSettings());
            // The docs speak of a node that has run a moment: failure 1 is the first failed attempt,
            // which vendor-feed/feed-broken (Demo:AlwaysFail) makes on its first run.
            await Eventually.TrueAsync(() => FailureExistsAsync(node, 1), TimeSpan.FromSeconds(30), "failure 1 should exist (feed-broken fails on its first run)");

            var runner = new ExampleRunner(node.Http.BaseAddress!.ToString().TrimEnd('/'), directory.FullName, log);
            foreach (var block in blocks)
                await runner.RunAsync(block);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public void SkippedBlocks_AreFewAndEachSaysWhy()
    {
        var blocks = Files().SelectMany(file => ShellBlock.Read(RepositoryRoot.Path, file)).ToList();
        var skipped = blocks.Where(b => b.SkipReason is not null).ToList();
        foreach (var block in skipped)
            log.WriteLine($"skipped: {block.File}:{block.Line}  {block.SkipReason}");
        log.WriteLine($"{blocks.Count - skipped.Count} shell blocks run, {skipped.Count} skipped");

        Assert.All(skipped, b => Assert.True(b.SkipReason!.Length >= 20, $"{b.Name} is skipped without a reason a reader can follow: \"{b.SkipReason}\""));
        Assert.True(skipped.Count <= MaxSkipped,
            $"{skipped.Count} shell blocks are left out of the docs tests (at most {MaxSkipped}): make some run, or merge them.\n"
            + string.Join("\n", skipped.Select(b => $"{b.Name}: {b.SkipReason}")));
    }

    [Fact]
    public void SkipMarkers_StandRightAboveAShellBlock()
    {
        foreach (var file in Files())
        {
            var markers = File.ReadLines(Path.Combine(RepositoryRoot.Path, file)).Count(l => l.TrimStart().StartsWith(ShellBlock.SkipMarker, StringComparison.Ordinal));
            var skipped = ShellBlock.Read(RepositoryRoot.Path, file).Count(b => b.SkipReason is not null);
            Assert.True(markers == skipped, $"{file}: {markers} skip markers but {skipped} skipped shell blocks: a marker must be the line right above a shell block's fence and end with -->.");
        }
    }

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
