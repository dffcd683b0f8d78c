using System.Text.RegularExpressions;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Docs;

/// <summary>The README stays a front door, and no link in it or in docs/ leads nowhere.</summary>
public sealed partial class DocsLinksTests
{
    private const int MaxReadmeLines = 300;

    /// <summary>
    /// Files linked before they are in this branch, with why: the link is checked like any other
    /// once the file exists. Remove an entry when its file has arrived.
    /// </summary>
    private static readonly Dictionary<string, string> ArrivingElsewhere = new();

    [Fact]
    public void Readme_IsAFrontDoor_AtMost300Lines()
    {
        var lines = File.ReadAllLines(Path.Combine(RepositoryRoot.Path, "README.md")).Length;
        Assert.True(lines <= MaxReadmeLines, $"README.md has {lines} lines (at most {MaxReadmeLines}): move the detail to a page under docs/ and link it.");
    }

    [Theory]
    [MemberData(nameof(DocsExamplesTests.DocFiles), MemberType = typeof(DocsExamplesTests))]
    public void RelativeLinks_PointAtFilesAndHeadingsThatExist(string file)
    {
        var broken = new List<string>();
        foreach (var (line, target) in Links(file))
        {
            var hash = target.IndexOf('#');
            var path = hash < 0 ? target : target[..hash];
            var anchor = hash < 0 ? null : target[(hash + 1)..];
            var resolved = path.Length == 0 ? file : Path.GetRelativePath(RepositoryRoot.Path, Path.GetFullPath(Path.Combine(RepositoryRoot.Path, Path.GetDirectoryName(file)!, Uri.UnescapeDataString(path)))).Replace('\\', '/');
            var full = Path.Combine(RepositoryRoot.Path, resolved);
            if (!File.Exists(full) && !Directory.Exists(full))
            {
                if (!ArrivingElsewhere.ContainsKey(resolved))
                    broken.Add($"{file}:{line}: ({target}): no file {resolved}");
                continue;
            }
            if (anchor is not null && resolved.EndsWith(".md", StringComparison.Ordinal) && !Anchors(resolved).Contains(anchor))
                broken.Add($"{file}:{line}: ({target}): {resolved} has no heading #{anchor}");
        }
        Assert.True(broken.Count == 0, "Broken links:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void Anchors_AreGitHubs()
    {
        Assert.Equal("schema-migrate", Anchor("Schema: `migrate`"));
        Assert.Equal("set-based-firing-postgresql", Anchor("Set-based firing (PostgreSQL)"));
        Assert.Equal("storage", Anchor("`Storage`"));
        Assert.Equal("datatypesname", Anchor("`DataTypes:<name>`"));
        Assert.Equal("a-downstream-outage-pause-dont-delete", Anchor("A downstream outage: pause, don't delete"));
    }

    /// <summary>The relative links of <paramref name="file"/> outside code, with their line numbers.</summary>
    private static IEnumerable<(int Line, string Target)> Links(string file)
    {
        var inFence = false;
        var number = 0;
        foreach (var line in File.ReadLines(Path.Combine(RepositoryRoot.Path, file)))
        {
            number++;
            if (line.StartsWith("```", StringComparison.Ordinal))
                inFence = !inFence;
            if (inFence || line.StartsWith("```", StringComparison.Ordinal))
                continue;
            foreach (Match link in Link().Matches(CodeSpan().Replace(line, "")))
            {
                var target = link.Groups["target"].Value;
                if (!Scheme().IsMatch(target))
                    yield return (number, target);
            }
        }
    }

    /// <summary>The anchors GitHub gives the headings of <paramref name="file"/>: repeated ones get -1, -2, ….</summary>
    private static HashSet<string> Anchors(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var inFence = false;
        foreach (var line in File.ReadLines(Path.Combine(RepositoryRoot.Path, file)))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
                inFence = !inFence;
            if (inFence || Heading().Match(line) is not { Success: true } heading)
                continue;
            var anchor = Anchor(heading.Groups["text"].Value);
            var unique = anchor;
            for (var n = 1; !anchors.Add(unique); n++)
                unique = $"{anchor}-{n}";
        }
        return anchors;
    }

    /// <summary>GitHub's anchor of a heading: lower case, punctuation but <c>-</c> and <c>_</c> dropped, spaces as <c>-</c>.</summary>
    private static string Anchor(string heading) =>
        NotInAnchor().Replace(heading.Trim().ToLowerInvariant(), "").Replace(' ', '-');

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)]
    private static partial Regex Scheme();

    [GeneratedRegex(@"^#{1,6} (?<text>.+)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\p{L}\p{Nd}_\- ]")]
    private static partial Regex NotInAnchor();
}
