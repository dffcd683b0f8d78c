using BatchScheduler.Lifecycle;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>docs/lifecycle.md shows the lifecycle table the code carries out.</summary>
public sealed class TransitionsDocsTests
{
    [Fact]
    public void LifecycleDoc_ShowsTheTableOfTheCode()
    {
        var doc = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "lifecycle.md")).ReplaceLineEndings("\n");
        var table = Transitions.ToMarkdown();
        Assert.True(doc.Contains(table, StringComparison.Ordinal), $"docs/lifecycle.md should contain the table of Transitions.All:\n{table}");
    }

    [Fact]
    public void EveryEvent_HasOneRow()
    {
        Assert.Equal(Enum.GetValues<LifecycleEvent>().Order(), Transitions.All.Select(t => t.Event).Order());
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "BatchScheduler.sln")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("BatchScheduler.sln not found above the test's directory.");
    }
}
