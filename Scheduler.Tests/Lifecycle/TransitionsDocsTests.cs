using BatchScheduler.Lifecycle;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>docs/lifecycle.md shows the lifecycle table the code carries out.</summary>
public sealed class TransitionsDocsTests
{
    [Fact]
    public void LifecycleDoc_ShowsTheTableOfTheCode()
    {
        var doc = File.ReadAllText(Path.Combine(BatchScheduler.Tests.Infrastructure.RepositoryRoot.Path, "docs", "lifecycle.md")).ReplaceLineEndings("\n");
        var table = Transitions.ToMarkdown();
        Assert.True(doc.Contains(table, StringComparison.Ordinal), $"docs/lifecycle.md should contain the table of Transitions.All:\n{table}");
    }

    [Fact]
    public void EveryEvent_HasOneRow()
    {
        Assert.Equal(Enum.GetValues<LifecycleEvent>().Order(), Transitions.All.Select(t => t.Event).Order());
    }
}
