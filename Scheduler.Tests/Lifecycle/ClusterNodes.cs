using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>What the test did to a node, and when (just before the signal was sent).</summary>
/// <param name="Dead">For a kill: when the process was known to be gone (it runs on for a few ms after <paramref name="At"/>).</param>
/// <param name="InFlight">
/// For a kill: the items left <c>in_flight</c> once it was gone, as <c>data_type/entity_id#fence</c> (<see cref="InFlightKey"/>):
/// the attempts whose end it did not write.
/// </param>
internal sealed record NodeEvent(string Node, string What, DateTimeOffset At, DateTimeOffset? Dead = null, IReadOnlySet<string>? InFlight = null)
{
    public static string InFlightKey(string item, long fence) => $"{item}#{fence}";

    public const string Killed = "SIGKILL";
    public const string Restarted = "restarted";

    public override string ToString() => $"{What} {Node} at {At:HH:mm:ss.fff}";
}

/// <summary>
/// The node processes of one test cluster, named n1, n2, …: each runs with its own settings (its
/// NodeId, its URL at the recorder). The test's API calls go through a <see cref="Lease"/> on a
/// live node, and a node is killed only once none of them is on its way to it, so every API call
/// the test logs got an answer.
/// </summary>
internal sealed class ClusterNodes : IAsyncDisposable
{
    private readonly Func<string, Dictionary<string, string?>> _settings;
    private readonly NodeProcess?[] _processes;
    private readonly bool[] _open;
    private readonly int[] _leases;
    private readonly Lock _lock = new();
    private readonly List<NodeEvent> _events = [];
    private readonly List<(string Name, NodeProcess Process)> _started = [];

    private ClusterNodes(int count, Func<string, Dictionary<string, string?>> settings)
    {
        _settings = settings;
        _processes = new NodeProcess?[count];
        _open = new bool[count];
        _leases = new int[count];
        Names = Enumerable.Range(1, count).Select(i => $"n{i}").ToArray();
    }

    public IReadOnlyList<string> Names { get; }

    public IReadOnlyList<NodeEvent> Events { get { lock (_lock) return [.. _events]; } }

    /// <summary>The log lines of every node process started, killed ones included, that contain <paramref name="text"/>, each prefixed with its node.</summary>
    public IReadOnlyList<string> LogLinesWith(string text)
    {
        lock (_lock)
        {
            return _started.SelectMany(s => s.Process.Output.Split('\n')
                .Where(l => l.Contains(text, StringComparison.Ordinal)).Select(l => $"{s.Name}: {l}")).ToList();
        }
    }

    /// <summary>Writes each node process's whole output (killed ones included) to <c>n1-1.log</c>, <c>n1-2.log</c>, … in <paramref name="directory"/>.</summary>
    public void WriteLogs(string directory)
    {
        Directory.CreateDirectory(directory);
        lock (_lock)
        {
            foreach (var (name, processes) in _started.GroupBy(s => s.Name).Select(g => (g.Key, g.ToList())))
            {
                for (var i = 0; i < processes.Count; i++)
                    File.WriteAllText(Path.Combine(directory, $"{name}-{i + 1}.log"), processes[i].Process.Output);
            }
        }
    }

    /// <summary>Starts the first node alone (it creates the schema), then the others together.</summary>
    public static async Task<ClusterNodes> StartAsync(int count, Func<string, Dictionary<string, string?>> settings)
    {
        var nodes = new ClusterNodes(count, settings);
        await nodes.StartNodeAsync(0);
        await Task.WhenAll(Enumerable.Range(1, count - 1).Select(nodes.StartNodeAsync));
        return nodes;
    }

    public NodeProcess Process(int index) => _processes[index] ?? throw new InvalidOperationException($"{Names[index]} is not running");

    public int IndexOf(string name) => Array.IndexOf(Names.ToArray(), name);

    /// <summary>A lease on node <paramref name="preferred"/>, or on the next live one; null when none is live.</summary>
    public Lease? TryLease(int preferred)
    {
        lock (_lock)
        {
            for (var i = 0; i < _processes.Length; i++)
            {
                var index = (preferred + i) % _processes.Length;
                if (!_open[index])
                    continue;
                _leases[index]++;
                return new Lease(this, index, Names[index], _processes[index]!.Http);
            }
            return null;
        }
    }

    /// <summary>
    /// SIGKILL, once the test's API calls on their way to the node are answered; once it is gone,
    /// <paramref name="inFlight"/> reads which attempts it left in flight (before anything can take them).
    /// </summary>
    public async Task KillAsync(int index, Func<Task<IReadOnlySet<string>>>? inFlight = null)
    {
        await CloseAsync(index);
        var at = TimeProvider.System.GetUtcNow();
        await _processes[index]!.KillAsync();
        var dead = TimeProvider.System.GetUtcNow();
        var left = inFlight is null ? null : await inFlight();
        lock (_lock)
            _events.Add(new NodeEvent(Names[index], NodeEvent.Killed, at, dead, left));
    }

    /// <summary>Starts a killed node again, under its old NodeId and settings.</summary>
    public async Task RestartAsync(int index)
    {
        await _processes[index]!.DisposeAsync();
        await StartNodeAsync(index);
        Note(index, NodeEvent.Restarted);
    }

    /// <summary>SIGTERM to every live node at once; waits until all have exited.</summary>
    public async Task StopAllAsync(TimeSpan timeout)
    {
        await Task.WhenAll(Enumerable.Range(0, _processes.Length).Select(CloseAsync));
        await Task.WhenAll(_processes.Where(p => p is not null).Select(p => p!.StopAsync(timeout)));
    }

    private async Task StartNodeAsync(int index)
    {
        _processes[index] = await NodeProcess.StartAsync(_settings(Names[index]));
        lock (_lock)
        {
            _open[index] = true;
            _started.Add((Names[index], _processes[index]!));
        }
    }

    private async Task CloseAsync(int index)
    {
        lock (_lock)
            _open[index] = false;
        await Eventually.TrueAsync(() => { lock (_lock) return Task.FromResult(_leases[index] == 0); }, TimeSpan.FromSeconds(60),
            $"the test's API calls to {Names[index]} should be answered");
    }

    private void Note(int index, string what)
    {
        lock (_lock)
            _events.Add(new NodeEvent(Names[index], what, TimeProvider.System.GetUtcNow()));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (process is not null)
                await process.DisposeAsync();
        }
    }

    /// <summary>The right to send one API call to a node: it is not killed before the call is answered.</summary>
    internal sealed class Lease(ClusterNodes nodes, int index, string name, HttpClient http) : IDisposable
    {
        public string Node { get; } = name;

        public HttpClient Http { get; } = http;

        public void Dispose()
        {
            lock (nodes._lock)
                nodes._leases[index]--;
        }
    }
}
