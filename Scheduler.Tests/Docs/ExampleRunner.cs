using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using BatchScheduler.Cli;
using Xunit.Abstractions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// Runs the commands of shell blocks from the docs against a node, in order, one bash process per
/// command in one working directory, and fails on the first answer the docs do not promise.
/// The docs' address <c>http://127.0.0.1:5080</c> stands for the node's; shell variables
/// (<c>B=…</c>) carry over to later commands; <c>NAME=…  # the id from the answer</c> takes the
/// <c>id</c> of the previous answer; <c>dotnet run --project Scheduler -- VERB …</c> runs the CLI
/// in-process with the node's <c>--url</c> (bash splits its words); <c>cat &gt; FILE &lt;&lt;…</c>
/// writes a file. Any other command fails, so nothing in a run block goes unchecked.
/// </summary>
public sealed partial class ExampleRunner(string nodeAddress, string directory, ITestOutputHelper log)
{
    private const string DocsAddress = "http://127.0.0.1:5080";
    private const string CliPrefix = "dotnet run --project Scheduler -- ";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, string> _variables = [];
    private string _lastAnswer = "";

    public async Task RunAsync(ShellBlock block)
    {
        foreach (var command in ExampleCommand.Split(block))
        {
            var text = command.Text.Replace(DocsAddress, nodeAddress, StringComparison.Ordinal);
            var where = $"{block.File}:{command.Line}";
            if (Assignment().Match(text) is { Success: true } assignment)
                await AssignAsync(where, assignment.Groups["name"].Value, text, command.Comment);
            else if (text.StartsWith("curl ", StringComparison.Ordinal))
                await CurlAsync(where, text, command.Expected);
            else if (text.StartsWith(CliPrefix, StringComparison.Ordinal))
                await CliAsync(where, text, command.Expected);
            else if (text.StartsWith("cat > ", StringComparison.Ordinal) && text.Contains("<<", StringComparison.Ordinal))
                await ShellAsync(where, text);
            else if (Sleep().IsMatch(text))
                await ShellAsync(where, text);
            else
                Assert.Fail($"{where}: the docs runner does not know how to run `{text}`. Teach ExampleRunner, or put `{ShellBlock.SkipMarker}REASON -->` on the line above the block.");
        }
    }

    private async Task AssignAsync(string where, string name, string text, string comment)
    {
        if (comment.Contains("from the answer", StringComparison.Ordinal))
        {
            using var answer = JsonDocument.Parse(_lastAnswer);
            Assert.True(answer.RootElement.TryGetProperty("id", out var id), $"{where}: `{text}` takes the id of the previous answer, which has none:\n{_lastAnswer}");
            _variables[name] = id.GetString()!;
        }
        else
        {
            var (exit, value, error) = await BashAsync(text + "\nprintf '%s' \"$" + name + "\"");
            Assert.True(exit == 0, $"{where}: `{text}` exited {exit}:\n{error}");
            _variables[name] = value;
        }
        log.WriteLine($"{where}  {name}={_variables[name]}");
    }

    private async Task CurlAsync(string where, string text, ExpectedAnswer expected)
    {
        // -w appends the status on a line of its own; -S shows curl's own error despite the docs' -s.
        var (exit, output, error) = await BashAsync($"curl -S --max-time {CommandTimeout.TotalSeconds} -w '\\n%{{http_code}}' " + text["curl ".Length..]);
        var split = output.LastIndexOf('\n');
        var body = split < 0 ? output : output[..split];
        var status = split < 0 ? 0 : int.Parse(output[(split + 1)..]);
        log.WriteLine($"{where}  {status}  {text.Split('\n')[0]}");
        var mismatches = expected.Mismatches(body).ToList();
        Assert.True(exit == 0 && expected.Accepts(status) && mismatches.Count == 0,
            $"{where}: `{text}`\nanswered {status} (the docs say {expected}){(mismatches.Count > 0 ? $", without {string.Join(", ", mismatches)}" : "")}; "
            + $"curl exited {exit}{(error.Length > 0 ? $": {error.Trim()}" : "")}\n{body}");
        _lastAnswer = body;
    }

    private async Task CliAsync(string where, string text, ExpectedAnswer expected)
    {
        var (exit, words, error) = await BashAsync("printf '%s\\0' " + text[CliPrefix.Length..]);
        Assert.True(exit == 0, $"{where}: bash could not read the arguments of `{text}`:\n{error}");
        // Relative file names are the files earlier commands wrote here, where the docs' shell stands.
        var args = words.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(word => File.Exists(Path.Combine(directory, word)) ? Path.Combine(directory, word) : word).ToList();
        if (args[0] == "migrate")
            // The docs' shell migrates the SQLite file of its own directory, as `dotnet run` there would.
            args.Add($"--Storage:ConnectionString=Data Source={Path.Combine(directory, "batchscheduler.db")}");
        else if (!args.Contains("--url"))
            args.AddRange(["--url", nodeAddress]);
        var output = new StringWriter { NewLine = "\n" };
        var errors = new StringWriter { NewLine = "\n" };
        using var timeout = new CancellationTokenSource(CommandTimeout);
        var code = await SchedulerCommands.Create().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = errors }, timeout.Token);
        log.WriteLine($"{where}  exit {code}  {text}\n{output}");
        Assert.True(code == expected.ExitCode,
            $"{where}: `{text}`\nexited {code} (the docs say {expected.ExitCode}):\n{output}{errors}");
    }

    private async Task ShellAsync(string where, string text)
    {
        var (exit, _, error) = await BashAsync(text);
        log.WriteLine($"{where}  exit {exit}  {text.Split('\n')[0]}");
        Assert.True(exit == 0, $"{where}: `{text}`\nexited {exit}:\n{error}");
    }

    private async Task<(int ExitCode, string Output, string Error)> BashAsync(string script)
    {
        var start = new ProcessStartInfo("/bin/bash")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(script);
        foreach (var (name, value) in _variables)
            start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout + TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException ex)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{script}` did not end within {CommandTimeout.TotalSeconds + 10} s.", ex);
        }
        return (process.ExitCode, await output, await error);
    }

    [GeneratedRegex(@"^sleep [0-9]{1,2}\s*(#.*)?$")]
    private static partial Regex Sleep();

    [GeneratedRegex(@"^(?<name>[A-Za-z_]\w*)=\S*\s*(#.*)?$")]
    private static partial Regex Assignment();
}
