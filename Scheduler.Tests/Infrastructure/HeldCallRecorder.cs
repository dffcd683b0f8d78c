using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// The outside world the <c>http</c> executor calls (<c>POST /work/{dataType}/{entityId}</c>), recording
/// every call in the order calls arrive. A call lasts its data type's hold, or until <see cref="Release"/>
/// for a data type held open; a call whose caller dies (its connection drops, as when a node is
/// SIGKILLed) ends then, so two calls of one entity in progress at once are a real overlap.
/// </summary>
public sealed class HeldCallRecorder : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<Call> _calls = new();
    private readonly ConcurrentDictionary<string, Entity> _entities = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _sequence;
    private int _active;

    private HeldCallRecorder(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Every call so far, in the order they arrived.</summary>
    public IReadOnlyList<Call> Calls => [.. _calls.OrderBy(c => c.Sequence)];

    /// <summary>Calls in progress now.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>The most calls of one entity that were ever in progress at once.</summary>
    public int MaxConcurrentPerEntity => _entities.Values.Select(e => e.MaxConcurrent).DefaultIfEmpty(0).Max();

    /// <summary>The executor URL for <paramref name="dataType"/>.</summary>
    public string UrlFor(string dataType) => $"{BaseAddress.ToString().TrimEnd('/')}/work/{dataType}/{{entityId}}";

    /// <summary>Starts the recorder; <paramref name="hold"/> says how long a data type's calls last (null: until <see cref="Release"/>).</summary>
    public static async Task<HeldCallRecorder> StartAsync(Func<string, TimeSpan?> hold)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var recorder = new HeldCallRecorder(app);
        app.MapPost("/work/{dataType}/{entityId}", async (string dataType, string entityId, HttpContext http) =>
        {
            var entity = recorder._entities.GetOrAdd($"{dataType}/{entityId}", _ => new Entity());
            entity.Enter();
            Interlocked.Increment(ref recorder._active);
            recorder._calls.Enqueue(new Call(Interlocked.Increment(ref recorder._sequence), dataType, entityId, recorder._clock.Elapsed));
            try
            {
                var until = recorder._released.Task;
                await (hold(dataType) is { } duration ? Task.WhenAny(until, Task.Delay(duration, http.RequestAborted)) : until)
                    .WaitAsync(http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The caller is gone.
            }
            finally
            {
                entity.Exit();
                Interlocked.Decrement(ref recorder._active);
            }
            return Results.Ok();
        });
        await app.StartAsync();
        recorder.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return recorder;
    }

    /// <summary>Ends every held call, and every later one at once.</summary>
    public void Release() => _released.TrySetResult();

    /// <summary>Calls of <paramref name="dataType"/>/<paramref name="entityId"/>, in arrival order.</summary>
    public IReadOnlyList<Call> CallsOf(string dataType, string entityId) =>
        [.. Calls.Where(c => c.DataType == dataType && c.EntityId == entityId)];

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One call: its place in arrival order and when it arrived (since the recorder started).</summary>
    public sealed record Call(long Sequence, string DataType, string EntityId, TimeSpan At);

    private sealed class Entity
    {
        private readonly Lock _lock = new();
        private int _active;

        public int MaxConcurrent { get; private set; }

        public void Enter()
        {
            lock (_lock)
                MaxConcurrent = Math.Max(MaxConcurrent, ++_active);
        }

        public void Exit()
        {
            lock (_lock)
                _active--;
        }
    }
}
