using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BatchScheduler.Tests.Infrastructure;

/// <summary>An in-process webhook (alerts, batch callbacks) that records every request body and answers 500 to the first <c>failFirst</c> requests.</summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _refusals;

    private WebhookReceiver(WebApplication app, int failFirst)
    {
        _app = app;
        _refusals = failFirst;
    }

    /// <summary>Every request, in arrival order, with the status it was answered.</summary>
    public ConcurrentQueue<(JsonElement Body, int Status, string? IdempotencyKey)> Requests { get; } = new();

    public string Url { get; private set; } = "";

    public IEnumerable<JsonElement> Delivered(string kind) =>
        Requests.Where(r => r.Status == 200 && r.Body.GetProperty("kind").GetString() == kind).Select(r => r.Body);

    public static async Task<WebhookReceiver> StartAsync(int failFirst = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, failFirst);
        app.MapPost("/hook", async (HttpRequest request) =>
        {
            var body = await JsonSerializer.DeserializeAsync<JsonElement>(request.Body);
            var status = Interlocked.Decrement(ref receiver._refusals) >= 0 ? 500 : 200;
            receiver.Requests.Enqueue((body, status, request.Headers["Idempotency-Key"].ToString()));
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
