using System.Text.RegularExpressions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// One logical command of a shell block, as bash reads it: continuation lines (<c>\</c>) joined, a
/// heredoc with its body; with its comment and the answer the docs promise for it.
/// </summary>
public sealed partial record ExampleCommand(string Text, int Line, string Comment, ExpectedAnswer Expected)
{
    /// <summary>
    /// The commands of <paramref name="block"/> in order. A comment on a line of its own names the
    /// answer of the commands below it up to the next blank or comment line; a command's own
    /// comment naming a status wins; <c>echo $?   # N</c> names the exit code of the command before it.
    /// </summary>
    public static IReadOnlyList<ExampleCommand> Split(ShellBlock block)
    {
        var commands = new List<ExampleCommand>();
        var lines = block.Lines;
        var heading = ExpectedAnswer.Success;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0)
            {
                heading = ExpectedAnswer.Success;
                continue;
            }
            if (line.StartsWith('#'))
            {
                heading = ExpectedAnswer.FromComment(line) ?? ExpectedAnswer.Success;
                continue;
            }
            if (line.StartsWith("echo $?", StringComparison.Ordinal))
            {
                var exit = ExitCode().Match(line);
                if (!exit.Success || commands.Count == 0)
                    throw new FormatException($"{block.File}:{block.Line + i}: `echo $?` should follow a command and say its exit code (`echo $?   # 1`).");
                commands[^1] = commands[^1] with { Expected = commands[^1].Expected with { ExitCode = int.Parse(exit.Groups[1].Value) } };
                continue;
            }
            var start = i;
            var text = lines[i];
            var comment = CommentOf(lines[i]);
            if (Heredoc().Match(lines[i]) is { Success: true } heredoc)
            {
                while (++i < lines.Count && lines[i] != heredoc.Groups["word"].Value)
                    text += "\n" + lines[i];
                text += "\n" + heredoc.Groups["word"].Value;
            }
            else
            {
                while (text.EndsWith('\\') && i + 1 < lines.Count)
                    text += "\n" + lines[++i];
                comment = CommentOf(lines[i]);
            }
            commands.Add(new ExampleCommand(text, block.Line + start, comment, ExpectedAnswer.FromComment(comment) ?? heading));
        }
        return commands;
    }

    /// <summary>The text after the line's first <c>#</c> that starts a word outside quotes, as bash reads comments.</summary>
    private static string CommentOf(string line)
    {
        char? quote = null;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote is not null)
                quote = c == quote ? null : quote;
            else if (c is '\'' or '"')
                quote = c;
            else if (c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1])))
                return line[(i + 1)..].Trim();
        }
        return "";
    }

    [GeneratedRegex(@"<<-?'?(?<word>\w+)'?")]
    private static partial Regex Heredoc();

    [GeneratedRegex(@"^echo \$\?\s*#\s*(\d+)")]
    private static partial Regex ExitCode();
}
