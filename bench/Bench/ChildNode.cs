using System.Diagnostics;
using System.Text.RegularExpressions;

namespace BatchScheduler.Bench;

/// <summary>A node as its own process (Scheduler.dll next to the bench), so it can be SIGKILLed like a crashed machine.</summary>
public sealed partial class ChildNode : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly StreamWriter? _log;

    private ChildNode(Process process, string? logPath)
    {
        _process = process;
        // For diagnosis: BENCH_CHILD_LOGS=<folder> keeps each node's output there (<Cluster:NodeId>.log).
        if (logPath is not null)
            _log = new StreamWriter(logPath, append: true) { AutoFlush = true };
    }

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The process's peak resident set so far (VmHWM), in MB.</summary>
    public double PeakRssMegabytes()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
    }

    /// <summary>The process id (for dotnet-trace and the like).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The process's CPU time so far, user + system, in seconds.</summary>
    public double CpuSeconds() => CpuSecondsOf(_process.Id);

    /// <summary>A process's CPU time so far, user + system, in seconds (/proc/PID/stat, clock ticks of 10 ms).</summary>
    public static double CpuSecondsOf(int processId)
    {
        var stat = File.ReadAllText($"/proc/{processId}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // Fields 14 and 15 of stat(5), counted from the state (field 3) here.
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>The process's thread count now.</summary>
    public int Threads()
    {
        var line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("Threads:", StringComparison.Ordinal));
        return int.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<ChildNode> StartAsync(IDictionary<string, string?> settings)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Scheduler.dll"));
        foreach (var (key, value) in settings)
            start.ArgumentList.Add($"--{key}={value}");
        start.ArgumentList.Add("--urls=http://127.0.0.1:0");
        var logs = Environment.GetEnvironmentVariable("BENCH_CHILD_LOGS");
        var node = new ChildNode(new Process { StartInfo = start, EnableRaisingEvents = true },
            string.IsNullOrEmpty(logs) ? null : Path.Combine(logs, $"{settings["Cluster:NodeId"] ?? "node"}.log"));
        node._process.OutputDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.ErrorDataReceived += (_, e) => node.OnLine(e.Data);
        node._process.Exited += (_, _) => node._listening.TrySetException(new InvalidOperationException("the node process exited before listening"));
        node._process.Start();
        node._process.BeginOutputReadLine();
        node._process.BeginErrorReadLine();
        node.Http = new HttpClient { BaseAddress = await node._listening.Task.WaitAsync(TimeSpan.FromSeconds(60)) };
        return node;
    }

    /// <summary>SIGTERM, as an operator stops a node: it shuts down gracefully; waits until it has exited.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        if (_process.HasExited)
            return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(timeout);
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    private void OnLine(string? line)
    {
        if (line is not null && _log is not null)
        {
            lock (_log)
                _log.WriteLine(line);
        }
        if (line is not null && ListeningLine().Match(line) is { Success: true } match)
            _listening.TrySetResult(new Uri(match.Groups[1].Value));
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();

    public void Dispose()
    {
        if (!_process.HasExited)
            Kill();
        Http?.Dispose();
        _process.Dispose();
        if (_log is not null)
        {
            lock (_log)
                _log.Dispose();
        }
    }
}
