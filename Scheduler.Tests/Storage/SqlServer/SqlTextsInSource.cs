using System.Text.RegularExpressions;
using BatchScheduler.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace BatchScheduler.Tests.Storage.SqlServer;

/// <summary>
/// One string in the product's source that reads as SQL (a literal, or an interpolated string whose
/// holes are left out): where it is, and its text pieces between holes, whitespace collapsed.
/// </summary>
internal sealed record SqlText(string File, int Line, string Member, IReadOnlyList<string> Pieces)
{
    public string Where => $"{File}:{Line} ({Member})";

    public override string ToString() => $"{Where}: \"{string.Join(" {…} ", Pieces)}\"";
}

/// <summary>
/// Every SQL text in the product's C# source (BatchScheduler*, Scheduler, Scheduler.Executors), found
/// with Roslyn's syntax trees: string literals, raw and verbatim strings, and interpolated strings
/// (their holes, and Quartz's <c>{0}</c> table-prefix placeholders, split the text into pieces). A
/// string reads as SQL when it holds an upper-case SQL keyword or clause, or a condition on a
/// parameter (<see cref="Looks"/>).
/// </summary>
internal static partial class SqlTextsInSource
{
    private static readonly string[] ProductFolders = ["BatchScheduler", "BatchScheduler.AspNetCore", "BatchScheduler.Sqlite",
        "BatchScheduler.PostgreSql", "BatchScheduler.SqlServer", "Scheduler", "Scheduler.Executors"];

    public static IReadOnlyList<SqlText> Find()
    {
        var found = new List<SqlText>();
        var folders = Directory.GetDirectories(RepositoryRoot.Path, "BatchScheduler*").Select(Path.GetFileName).Concat(ProductFolders).Distinct();
        foreach (var folder in folders.Order(StringComparer.Ordinal))
        {
            var directory = Path.Combine(RepositoryRoot.Path, folder!);
            if (!Directory.Exists(directory))
                continue;
            foreach (var file in Directory.GetFiles(directory, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var relative = Path.GetRelativePath(RepositoryRoot.Path, file).Replace('\\', '/');
                if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
                    continue;
                var tree = CSharpSyntaxTree.ParseText(File.ReadAllText(file), path: relative);
                found.AddRange(InTree(tree, relative));
            }
        }
        return found;
    }

    private static IEnumerable<SqlText> InTree(SyntaxTree tree, string file)
    {
        foreach (var node in tree.GetRoot().DescendantNodes())
        {
            IReadOnlyList<string>? pieces = node switch
            {
                LiteralExpressionSyntax literal when literal.IsKind(SyntaxKind.StringLiteralExpression) =>
                    FormatHole().Split(literal.Token.ValueText),
                InterpolatedStringExpressionSyntax interpolated =>
                    Pieces(interpolated),
                _ => null,
            };
            if (pieces is null || !Looks(string.Join(' ', pieces)))
                continue;
            var line = node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
            yield return new SqlText(file, line, MemberOf(node), [.. pieces.Select(Normalize).Where(p => p.Length > 0)]);
        }
    }

    private static List<string> Pieces(InterpolatedStringExpressionSyntax interpolated)
    {
        var pieces = new List<string> { "" };
        foreach (var content in interpolated.Contents)
        {
            if (content is InterpolatedStringTextSyntax text)
                pieces[^1] += text.TextToken.ValueText;
            else
                pieces.Add("");
        }
        return pieces;
    }

    private static string MemberOf(SyntaxNode node)
    {
        var member = node.Ancestors().OfType<MemberDeclarationSyntax>().FirstOrDefault(m => m is not BaseTypeDeclarationSyntax);
        var type = node.Ancestors().OfType<BaseTypeDeclarationSyntax>().FirstOrDefault()?.Identifier.Text ?? "?";
        var name = member switch
        {
            MethodDeclarationSyntax m => m.Identifier.Text,
            PropertyDeclarationSyntax p => p.Identifier.Text,
            FieldDeclarationSyntax f => string.Join(",", f.Declaration.Variables.Select(v => v.Identifier.Text)),
            ConstructorDeclarationSyntax => ".ctor",
            _ => member?.Kind().ToString() ?? "?",
        };
        return $"{type}.{name}";
    }

    /// <summary>Whitespace runs as one space, trimmed: how both the source's pieces and the issued statements are compared.</summary>
    public static string Normalize(string sql) => Whitespace().Replace(sql, " ").Trim();

    /// <summary>
    /// True for a string holding an upper-case SQL keyword or clause (HTTP's DELETE alone is not one), or a
    /// condition on a parameter (<c>who = @who</c>): the pieces a query is assembled from count as well.
    /// </summary>
    public static bool Looks(string text) => SqlWords().IsMatch(text);

    [GeneratedRegex(@"\{\d+\}")]
    private static partial Regex FormatHole();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\b(SELECT|INSERT INTO|UPDATE \w+|DELETE FROM|MERGE|EXEC|WHERE|FROM|JOIN|SET|VALUES|CASE WHEN|ORDER BY|GROUP BY|OUTPUT|OFFSET|IS NULL|IS NOT NULL|NOT EXISTS|AND|OR|IN)\b|\b[a-z_][a-z0-9_.]*\s*(=|<>|<=|>=|<|>|LIKE)\s*@[A-Za-z]")]
    private static partial Regex SqlWords();
}
