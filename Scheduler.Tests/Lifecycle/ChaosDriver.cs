using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Tests.Infrastructure;

namespace BatchScheduler.Tests.Lifecycle;

/// <summary>A read of an item through the API while the recorder had one of its calls open.</summary>
internal sealed record OpenCallSample(RecordedCall Call, ApiOperation Read);

/// <summary>
/// Drives the randomized test through the public API of random live nodes: run-now, re-tier
/// (incl. <c>exclude</c> and back), delete and register again, reads; a few at a time, paced, the
/// choices drawn from the seed. Alongside, it samples items whose call is open at the recorder.
/// Every call is logged with when it was sent and answered.
/// </summary>
internal sealed class ChaosDriver(ClusterNodes nodes, HttpRecorder recorder, IReadOnlyList<DriverItem> items, int seed)
{
    private const int InFlightOperations = 6;

    private readonly ConcurrentQueue<ApiOperation> _operations = new();
    private readonly ConcurrentQueue<OpenCallSample> _samples = new();
    private readonly Dictionary<string, DriverItem> _byKey = items.ToDictionary(i => i.Key, StringComparer.Ordinal);

    public IReadOnlyList<ApiOperation> Operations => [.. _operations];

    public IReadOnlyList<OpenCallSample> Samples => [.. _samples];

    /// <summary>Registers every item through the first node, in its first tier.</summary>
    public async Task RegisterAllAsync()
    {
        using var lease = nodes.TryLease(0)!;
        foreach (var group in items.GroupBy(i => i.DataType))
        {
            var body = new { dataType = group.Key, items = group.Select(i => new { entityId = i.EntityId, tier = i.Tier }) };
            (await lease.Http.PostAsJsonAsync("/api/work-items", body)).EnsureSuccessStatusCode();
        }
    }

    /// <summary>
    /// Random operations for <paramref name="duration"/>, with <paramref name="timeline"/>'s actions (a
    /// kill, a restart) run when their time comes; returns once every operation has been answered.
    /// </summary>
    public async Task RunAsync(TimeSpan duration, IReadOnlyList<(TimeSpan At, Func<Task> Action)> timeline)
    {
        var random = new Random(seed);
        var clock = TimeProvider.System;
        var start = clock.GetTimestamp();
        var due = new Queue<(TimeSpan At, Func<Task> Action)>(timeline.OrderBy(t => t.At));
        var background = new List<Task>();
        using var slots = new SemaphoreSlim(InFlightOperations);
        using var stopSampling = new CancellationTokenSource();
        var sampler = SampleOpenCallsAsync(seed + 1, stopSampling.Token);
        while (clock.GetElapsedTime(start) < duration)
        {
            while (due.Count > 0 && clock.GetElapsedTime(start) >= due.Peek().At)
                background.Add(due.Dequeue().Action());
            var (kind, item) = Choose(random);
            var node = random.Next(nodes.Names.Count);
            var tier = NextTier(random, item);
            if (item is not null && item.Gate.Wait(0))
            {
                await slots.WaitAsync();
                background.Add(Task.Run(async () =>
                {
                    try
                    {
                        await ApplyAsync(kind, item, node, tier);
                    }
                    finally
                    {
                        item.Gate.Release();
                        slots.Release();
                    }
                }));
            }
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(60, 180))); // pacing, not synchronisation
        }
        await Task.WhenAll(background);
        await stopSampling.CancelAsync();
        await sampler;
    }

    /// <summary>
    /// The next operation and its item. Half the run-nows, re-tiers and deletes go to an item whose
    /// call is open at the recorder: a move taken while the item runs is where its own attempt's end
    /// races it.
    /// </summary>
    private (OperationKind Kind, DriverItem? Item) Choose(Random random)
    {
        var roll = random.NextDouble();
        var (kind, pool) = roll switch
        {
            < 0.45 => (OperationKind.RunNow, items.Where(i => i.Exists && !i.IsExcluded)),
            < 0.70 => (OperationKind.Put, items.Where(i => i.IsVolatile && i.Exists)),
            < 0.80 => (OperationKind.Delete, items.Where(i => i.IsVolatile && i.Exists)),
            < 0.90 => (OperationKind.Put, items.Where(i => i.IsVolatile && !i.Exists)),
            _ => (OperationKind.Get, items.AsEnumerable()),
        };
        var candidates = pool.ToList();
        if (random.NextDouble() < 0.5)
        {
            var running = recorder.OpenCalls.Select(c => c.Item).ToHashSet(StringComparer.Ordinal);
            var busy = candidates.Where(i => running.Contains(i.Key)).ToList();
            if (busy.Count > 0)
                candidates = busy;
        }
        return (kind, candidates.Count == 0 ? null : candidates[random.Next(candidates.Count)]);
    }

    /// <summary>A PUT's tier: back from <c>exclude</c>, into it (two times in five), or another tier.</summary>
    private static string NextTier(Random random, DriverItem? item)
    {
        var roll = random.NextDouble();
        if (item is null)
            return ChaosScenario.Exclude;
        var tiers = ChaosScenario.TiersOf(item.DataType);
        var other = tiers[random.Next(tiers.Length)];
        return item.Exists && !item.IsExcluded && roll < 0.4 ? ChaosScenario.Exclude : other;
    }

    private async Task ApplyAsync(OperationKind kind, DriverItem item, int node, string tier)
    {
        // Chosen before the gate was taken: what the item is now decides whether the operation still fits.
        var fits = kind switch
        {
            OperationKind.RunNow => item.Exists && !item.IsExcluded,
            OperationKind.Delete => item.Exists,
            _ => true,
        };
        if (!fits)
            return;
        using var lease = nodes.TryLease(node);
        if (lease is null)
            return;
        var path = $"/api/work-items/{item.DataType}/{item.EntityId}";
        var sent = TimeProvider.System.GetUtcNow();
        using var response = kind switch
        {
            OperationKind.RunNow => await lease.Http.PostAsync($"{path}/run", null),
            OperationKind.Put => await lease.Http.PutAsJsonAsync(path, new { tier }),
            OperationKind.Delete => await lease.Http.DeleteAsync(path),
            _ => await lease.Http.GetAsync(path),
        };
        var answered = TimeProvider.System.GetUtcNow();
        var status = (int)response.StatusCode;
        var state = kind == OperationKind.Get && status == 200 ? await StateOfAsync(response) : null;
        _operations.Enqueue(new ApiOperation(kind, item.Key, lease.Node, sent, answered, status, kind == OperationKind.Put ? tier : null, state));
        if (kind == OperationKind.Put && status == 200)
            (item.Exists, item.Tier) = (true, tier);
        if (kind == OperationKind.Delete && status is 204 or 404)
            item.Exists = false;
    }

    /// <summary>Reads items whose call is open at the recorder, through random live nodes, until stopped.</summary>
    private async Task SampleOpenCallsAsync(int samplerSeed, CancellationToken stop)
    {
        var random = new Random(samplerSeed);
        while (!stop.IsCancellationRequested)
        {
            var now = TimeProvider.System.GetUtcNow();
            var open = recorder.OpenCalls.Where(c => c.DataType is not null && now - c.Start > TimeSpan.FromMilliseconds(50)).ToList();
            foreach (var call in open.OrderBy(_ => random.Next()).Take(3))
            {
                using var lease = nodes.TryLease(random.Next(nodes.Names.Count));
                if (lease is null)
                    break;
                var sent = TimeProvider.System.GetUtcNow();
                using var response = await lease.Http.GetAsync($"/api/work-items/{call.DataType}/{call.EntityId}", CancellationToken.None);
                var answered = TimeProvider.System.GetUtcNow();
                var state = response.IsSuccessStatusCode ? await StateOfAsync(response) : null;
                _samples.Enqueue(new OpenCallSample(call, new ApiOperation(OperationKind.Get, call.Item, lease.Node, sent, answered, (int)response.StatusCode, State: state)));
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task<string?> StateOfAsync(HttpResponseMessage response)
    {
        using var item = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync());
        return item.RootElement.GetProperty("state").GetString();
    }

    public DriverItem Item(string key) => _byKey[key];
}
