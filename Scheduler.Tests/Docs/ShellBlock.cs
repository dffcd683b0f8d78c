using System.Text.RegularExpressions;

namespace BatchScheduler.Tests.Docs;

/// <summary>A fenced <c>```sh</c> block of a markdown file, with the heading it stands under.</summary>
public sealed partial record ShellBlock(string File, string Heading, int Line, IReadOnlyList<string> Lines)
{
    /// <summary>How the run and skip lists name the block: file › heading › first line.</summary>
    public string Name => $"{File} › {Heading} › {Lines.First(l => l.Trim().Length > 0).Trim()}";

    /// <summary>
    /// Whether the block sends requests to a node: curl, <c>$B</c>, or a CLI verb that calls a
    /// node's API (<c>pause</c>, <c>resume</c>, <c>submit</c>).
    /// </summary>
    public bool CallsANode => Lines.Any(l => l.Contains("curl ", StringComparison.Ordinal)
        || l.Contains("$B", StringComparison.Ordinal) || NodeVerb().IsMatch(l));

    /// <summary>Every <c>```sh</c> block of <paramref name="relativePath"/> (below <paramref name="root"/>), in order.</summary>
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
            var isShell = lines[i].Trim() == "```sh";
            var start = i + 1;
            i = start;
            while (i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal))
                i++; // a '#' inside any fence is a comment, not a heading
            if (isShell)
                yield return new ShellBlock(relativePath, heading, start + 1, lines[start..i]);
        }
    }

    [GeneratedRegex(@"dotnet run --project Scheduler -- (pause|resume|submit)\b")]
    private static partial Regex NodeVerb();
}
