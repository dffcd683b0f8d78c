namespace BatchScheduler.Tests.Docs;

/// <summary>How a docs block is read into commands and the answers its comments promise.</summary>
public sealed class ExampleCommandTests
{
    private static IReadOnlyList<ExampleCommand> Split(params string[] lines) =>
        ExampleCommand.Split(new ShellBlock("README.md", "Try it", 10, lines));

    [Fact]
    public void Split_CommentsAboveAndBeside_NameEachCommandsStatus()
    {
        var commands = Split(
            "# pause it → 200",
            "curl -s -X POST $B/pause -H 'Content-Type: application/json' \\",
            "  -d '{\"reason\":\"# not a comment\"}'",
            "curl -s $B/types   # → [{\"paused\":true}]",
            "curl -s -X POST $B/done   # → 204",
            "",
            "curl -s $B/health");

        Assert.Equal(["curl -s -X POST $B/pause -H 'Content-Type: application/json' \\\n  -d '{\"reason\":\"# not a comment\"}'", "curl -s $B/types   # → [{\"paused\":true}]",
            "curl -s -X POST $B/done   # → 204", "curl -s $B/health"], commands.Select(c => c.Text));
        Assert.Equal([11, 13, 14, 16], commands.Select(c => c.Line));
        Assert.Equal(["200", "200", "204", "2xx"], commands.Select(c => c.Expected.ToString()));
    }

    [Fact]
    public void Split_HeredocAndEchoExitCode_OneCommandEach()
    {
        var commands = Split(
            "cat > a.jsonl <<'JSONL'",
            "# → 500 is data here",
            "JSONL",
            "dotnet run --project Scheduler -- submit a.jsonl --wait",
            "#   Batch … partial_success",
            "echo $?   # 1: it did not complete");

        Assert.Equal(2, commands.Count);
        Assert.Equal("cat > a.jsonl <<'JSONL'\n# → 500 is data here\nJSONL", commands[0].Text);
        Assert.Equal(0, commands[0].Expected.ExitCode);
        Assert.Equal(1, commands[1].Expected.ExitCode);
    }

    [Fact]
    public void FromComment_StatusesAndBody_AreWhatTheAnswerMustShow()
    {
        var either = ExpectedAnswer.FromComment("→ 200, or 409 if it has ended already")!;
        Assert.True(either.Accepts(409));
        Assert.False(either.Accepts(404));

        var accepted = ExpectedAnswer.FromComment("many at once → 200 {\"accepted\":2}")!;
        Assert.Empty(accepted.Mismatches("{\"accepted\":2}"));
        Assert.Equal(["\"accepted\": 2"], accepted.Mismatches("{\"accepted\":1}"));
        Assert.Null(ExpectedAnswer.FromComment("→ 201 {\"id\",\"status\":\"in_progress\",...}")!.Body);
        Assert.Null(ExpectedAnswer.FromComment("→ [{\"dataType\":\"vendor-feed\"}]"));
    }
}
