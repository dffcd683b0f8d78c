using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>
/// The outside world the <c>http</c> executor calls, watching from outside the nodes: every call
/// of <c>POST /work/{entityId}</c> is an execution; two calls for one entity in progress at the
/// same moment are an overlap, whichever nodes made them.
/// </summary>
public sealed class HttpRecorder : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, EntityCalls> _entities = new();
    private int _total;

    private HttpRecorder(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public int TotalCalls => Volatile.Read(ref _total);

    public IReadOnlyDictionary<string, EntityCalls> Entities => _entities;

    public static async Task<HttpRecorder> StartAsync(TimeSpan callDuration)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var recorder = new HttpRecorder(app);
        app.MapPost("/work/{entityId}", async (string entityId, CancellationToken ct) =>
        {
            var calls = recorder._entities.GetOrAdd(entityId, _ => new EntityCalls());
            calls.Enter();
            Interlocked.Increment(ref recorder._total);
            try
            {
                await Task.Delay(callDuration, CancellationToken.None);
            }
            finally
            {
                calls.Exit();
            }
            return Results.Ok();
        });
        await app.StartAsync();
        recorder.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return recorder;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Calls for one entity: how many, and whether two were ever in progress at once.</summary>
    public sealed class EntityCalls
    {
        private readonly Lock _lock = new();
        private int _active;

        public int Calls { get; private set; }

        public int MaxConcurrent { get; private set; }

        public void Enter()
        {
            lock (_lock)
            {
                Calls++;
                _active++;
                MaxConcurrent = Math.Max(MaxConcurrent, _active);
            }
        }

        public void Exit()
        {
            lock (_lock)
                _active--;
        }
    }
}
