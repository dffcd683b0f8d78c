using System.Text.RegularExpressions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// A fenced shell block (<c>```sh</c>, <c>```bash</c>, <c>```shell</c>) of a markdown file, with the heading it
/// stands under and, when the line right above its fence is <c>&lt;!-- not run by the docs tests: REASON --&gt;</c>,
/// why the docs tests leave it out.
/// </summary>
public sealed partial record ShellBlock(string File, string Heading, int Line, IReadOnlyList<string> Lines, string? SkipReason = null)
{
    /// <summary>The marker, on the line right above a shell block's fence, that leaves the block out of the docs tests.</summary>
    public const string SkipMarker = "<!-- not run by the docs tests: ";

    /// <summary>How the run and skip lists name the block: file › heading › first line.</summary>
    public string Name => $"{File} › {Heading} › {Lines.First(l => l.Trim().Length > 0).Trim()}";

    /// <summary>
    /// Whether the block sends requests to a node: curl, <c>$B</c>, or a CLI verb that calls a
    /// node's API (<c>pause</c>, <c>resume</c>, <c>submit</c>).
    /// </summary>
    public bool CallsANode => Lines.Any(l => l.Contains("curl ", StringComparison.Ordinal)
        || l.Contains("$B", StringComparison.Ordinal) || NodeVerb().IsMatch(l));

    /// <summary>Every shell block of <paramref name="relativePath"/> (below <paramref name="root"/>), in order.</summary>
    public static IEnumerable<ShellBlock> Read(string root, string relativePath)
    {
        var lines = System.IO.File.ReadAllText(Path.Combine(root, relativePath)).ReplaceLineEndings("\n").Split('\n');
        var heading = "";
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith('#'))
            {
                heading = lines[i].TrimStart('#').Trim();
                continue;
            }
            if (!lines[i].StartsWith("```", StringComparison.Ordinal))
                continue;
            var isShell = ShellFence().IsMatch(lines[i].Trim());
            var skip = i > 0 ? SkipReasonOf(lines[i - 1]) : null;
            var start = i + 1;
            i = start;
            while (i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal))
                i++; // a '#' inside any fence is a comment, not a heading
            if (isShell)
                yield return new ShellBlock(relativePath, heading, start + 1, lines[start..i], skip);
            else if (skip is not null)
                throw new FormatException($"{relativePath}:{start}: a skip marker stands above a block that is not a shell block.");
        }
    }

    /// <summary>The reason a skip marker line gives (empty when it gives none); null when the line is no marker.</summary>
    private static string? SkipReasonOf(string line)
    {
        var trimmed = line.Trim();
        return trimmed.StartsWith(SkipMarker, StringComparison.Ordinal) && trimmed.EndsWith("-->", StringComparison.Ordinal)
            ? trimmed[SkipMarker.Length..^"-->".Length].Trim()
            : null;
    }

    [GeneratedRegex(@"^```(sh|bash|shell)\b")]
    private static partial Regex ShellFence();

    [GeneratedRegex(@"dotnet run --project Scheduler -- (pause|resume|submit)\b")]
    private static partial Regex NodeVerb();
}
