using System.Diagnostics;
using System.Text.RegularExpressions;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// A node as its own process (the real Scheduler.dll), so a test can kill it with SIGKILL the way
/// a crashed machine would (no shutdown code runs), freeze it with SIGSTOP the way a long GC pause
/// or a stalled VM would, or stop it with SIGTERM the way an operator does.
/// </summary>
public sealed partial class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _output = [];

    private NodeProcess(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Scheduler.dll"));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        _process = new Process { StartInfo = start, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        _process.Exited += (_, _) => _listening.TrySetException(new InvalidOperationException(
            $"The node process exited with {_process.ExitCode} before listening:\n{Output}"));
    }

    public HttpClient Http { get; private set; } = null!;

    public int ProcessId => _process.Id;

    public string Output { get { lock (_output) return string.Join('\n', _output); } }

    /// <summary>Starts the node with <c>--Key=value</c> settings and waits until it listens.</summary>
    public static async Task<NodeProcess> StartAsync(IDictionary<string, string?> settings)
    {
        var args = settings.Select(kv => $"--{kv.Key}={kv.Value}").Append("--urls=http://127.0.0.1:0");
        var node = new NodeProcess(args);
        node._process.Start();
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        var address = await node._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
        node.Http = new HttpClient { BaseAddress = address };
        // As a script does (docs/security.md, Access): without keys a loopback POST needs it.
        node.Http.DefaultRequestHeaders.Add(BatchScheduler.Admin.CrossSiteRequests.Header, "BatchScheduler tests");
        return node;
    }

    /// <summary>
    /// Starts a node that is expected to refuse to start: waits for it to exit and returns its exit
    /// code and output (stdout and stderr, in the order read). It listens on a free port unless <c>urls</c> is among the settings. Fails if it starts listening instead (then it is killed).
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunUntilExitAsync(IDictionary<string, string?> settings)
    {
        var args = settings.Select(kv => $"--{kv.Key}={kv.Value}");
        if (!settings.ContainsKey("urls"))
            args = args.Append("--urls=http://127.0.0.1:0");
        await using var node = new NodeProcess(args);
        node._process.Start();
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        var exited = node._process.WaitForExitAsync();
        try
        {
            await Task.WhenAny(exited, node._listening.Task).WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException timeout)
        {
            throw new TimeoutException($"The node neither exited nor listened within 60 s:\n{node.Output}", timeout);
        }
        if (node._listening.Task.IsCompletedSuccessfully)
            throw new InvalidOperationException($"The node started (listening on {node._listening.Task.Result}) instead of refusing to:\n{node.Output}");
        await exited; // also waits for the redirected output to be read to its end
        _ = node._listening.Task.Exception; // observed: it failed because the process exited
        return (node._process.ExitCode, node.Output);
    }

    /// <summary>SIGKILL: the process ends at once, mid-whatever.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>
    /// SIGSTOP: the process freezes where it is, mid-whatever, until <see cref="ResumeAsync"/>. Its
    /// sockets stay open: its HTTP calls and database sessions wait for it, as after a long GC pause.
    /// </summary>
    public Task PauseAsync() => SignalAsync("STOP");

    /// <summary>SIGCONT: a process frozen by <see cref="PauseAsync"/> carries on.</summary>
    public Task ResumeAsync() => SignalAsync("CONT");

    /// <summary>SIGTERM: the node shuts down gracefully (its running items get their grace period); waits until it has exited.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
            return;
        await SignalAsync("TERM");
        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    private async Task SignalAsync(string signal)
    {
        var start = new ProcessStartInfo("kill") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add($"-{signal}");
        start.ArgumentList.Add(_process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var kill = Process.Start(start)!;
        var error = kill.StandardError.ReadToEndAsync();
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
            throw new InvalidOperationException($"kill -{signal} {_process.Id} exited {kill.ExitCode}: {await error}");
    }

    private void OnLine(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.Add(line);
        if (ListeningLine().Match(line) is { Success: true } match)
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
    }

    // Also in a JSON log (Logging:Console:Format=json), where the rendered message quotes the address: "on: \"http://…\"".
    [GeneratedRegex(@"Now listening on: (?:\\"")?(http://[^\s""\\]+)")]
    private static partial Regex ListeningLine();

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (!_process.HasExited)
            await KillAsync();
        _process.Dispose();
    }
}
