using System.Collections.Concurrent;
using System.Globalization;
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
/// of <c>POST /work/{entityId}</c> or <c>POST /calls/{caller}/{dataType}/{entityId}</c> (see
/// <see cref="UrlFor"/>) is an execution; two calls for one item in progress at the same moment
/// are an overlap, whichever nodes made them. A script decides each call's answer and how long it
/// takes; every call is kept (<see cref="Calls"/>) with its start, its end, and whether the caller
/// aborted it first.
/// </summary>
public sealed class HttpRecorder : IAsyncDisposable
{
    /// <summary>The request header the <c>http</c> executor sends the attempt's fencing token in.</summary>
    public const string FenceHeader = "BatchScheduler-Fence";

    private readonly WebApplication _app;
    private readonly Func<RecordedCall, CallPlan> _script;
    private readonly ConcurrentDictionary<string, EntityCalls> _entities = new();
    private readonly Lock _lock = new();
    private readonly List<RecordedCall> _calls = [];
    private readonly Dictionary<string, int> _callsPerItem = new(StringComparer.Ordinal);

    private HttpRecorder(WebApplication app, Func<RecordedCall, CallPlan> script)
    {
        _app = app;
        _script = script;
    }

    public Uri BaseAddress { get; private set; } = null!;

    public int TotalCalls { get { lock (_lock) return _calls.Count; } }

    /// <summary>Per item (the entity id on the <c>/work</c> route): how many calls, and the most at once.</summary>
    public IReadOnlyDictionary<string, EntityCalls> Entities => _entities;

    /// <summary>Every call so far, in the order received.</summary>
    public IReadOnlyList<RecordedCall> Calls { get { lock (_lock) return [.. _calls]; } }

    /// <summary>The calls not answered (nor aborted) yet.</summary>
    public IReadOnlyList<RecordedCall> OpenCalls => Calls.Where(c => c.IsOpen).ToList();

    /// <summary>Answers every call with 200 after <paramref name="callDuration"/>.</summary>
    public static Task<HttpRecorder> StartAsync(TimeSpan callDuration) => StartAsync(_ => CallPlan.Succeed(callDuration));

    /// <summary>Answers each call as <paramref name="script"/> decides (called once per call, on arrival).</summary>
    public static async Task<HttpRecorder> StartAsync(Func<RecordedCall, CallPlan> script)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var recorder = new HttpRecorder(app, script);
        app.MapPost("/work/{entityId}", (string entityId, HttpContext http) => recorder.HandleAsync(null, null, entityId, http));
        app.MapPost("/calls/{caller}/{dataType}/{entityId}", (string caller, string dataType, string entityId, HttpContext http) =>
            recorder.HandleAsync(caller, dataType, entityId, http));
        await app.StartAsync();
        recorder.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return recorder;
    }

    /// <summary>The <c>DataTypes:&lt;dataType&gt;:Http:Url</c> for node <paramref name="caller"/>: its calls are recorded as its.</summary>
    public string UrlFor(string caller, string dataType) =>
        $"{BaseAddress.ToString().TrimEnd('/')}/calls/{Uri.EscapeDataString(caller)}/{Uri.EscapeDataString(dataType)}/{{entityId}}";

    private async Task HandleAsync(string? caller, string? dataType, string entityId, HttpContext http)
    {
        long? fence = long.TryParse(http.Request.Headers[FenceHeader], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
        RecordedCall call;
        lock (_lock)
        {
            var item = dataType is null ? entityId : $"{dataType}/{entityId}";
            var index = _callsPerItem.GetValueOrDefault(item);
            _callsPerItem[item] = index + 1;
            call = new RecordedCall(_calls.Count + 1, caller, dataType, entityId, index, fence, TimeProvider.System.GetUtcNow());
            _calls.Add(call);
        }
        var counts = _entities.GetOrAdd(call.Item, _ => new EntityCalls());
        counts.Enter();
        try
        {
            var plan = _script(call);
            call.Plan = plan;
            try
            {
                await Task.Delay(plan.Duration, http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                // The caller closed the connection: its HttpClient call was cancelled, or its process died.
                call.Finish(TimeProvider.System.GetUtcNow(), aborted: true);
                return;
            }
            // Ended before the answer is sent, so the caller's own end is always later than this one.
            call.Finish(TimeProvider.System.GetUtcNow(), aborted: false);
            http.Response.StatusCode = plan.Status;
            if (plan.RetryAfter is { } retryAfter)
                http.Response.Headers.RetryAfter = ((int)retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }
        finally
        {
            counts.Exit();
        }
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
