using System.Net;
using System.Text.Json;
using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace BatchScheduler.Tests.Executors.BuiltIn;

public sealed class HttpExecutorTests
{
    private const string DataType = "dt";
    private static readonly TimeSpan TestGuard = TimeSpan.FromSeconds(10);

    private static HttpExecutor Executor(Action<HttpExecutorOptions> configure, TimeProvider? timeProvider = null)
    {
        var services = new ServiceCollection();
        services.AddHttpClient();
        services.Configure(DataType, configure);
        var provider = services.BuildServiceProvider();
        return new HttpExecutor(
            provider.GetRequiredService<IHttpClientFactory>(),
            provider.GetRequiredService<IOptionsMonitor<HttpExecutorOptions>>(),
            timeProvider);
    }

    private static WorkItemContext Item(string entityId = "AAPL", string? payloadJson = null, int attempt = 1) =>
        new(DataType, entityId, payloadJson is null ? null : JsonDocument.Parse(payloadJson).RootElement, attempt, "node-1");

    [Fact]
    public async Task ExecuteAsync_Post_SendsWorkItemAsCamelCaseJson()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 200));
        var executor = Executor(o => o.Url = server.BaseUrl + "prices");

        await executor.ExecuteAsync(Item("AAPL", """{"symbol":"AAPL","n":3}""", attempt: 2), CancellationToken.None);

        var request = Assert.Single(server.Received);
        Assert.Equal("POST", request.Method);
        Assert.StartsWith("application/json", request.ContentType);
        using var body = JsonDocument.Parse(request.Body);
        var root = body.RootElement;
        Assert.Equal(DataType, root.GetProperty("dataType").GetString());
        Assert.Equal("AAPL", root.GetProperty("entityId").GetString());
        Assert.Equal(2, root.GetProperty("attempt").GetInt32());
        Assert.Equal(3, root.GetProperty("payload").GetProperty("n").GetInt32());
    }

    [Fact]
    public async Task ExecuteAsync_SendsTheAttemptsFence_AsHeaderAndInTheBody()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 200));
        var executor = Executor(o => o.Url = server.BaseUrl + "prices");

        await executor.ExecuteAsync(Item() with { Fence = 1796594766560072 }, CancellationToken.None);

        var request = Assert.Single(server.Received);
        Assert.Equal("1796594766560072", request.Fence);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal(1796594766560072, body.RootElement.GetProperty("fence").GetInt64());
    }

    [Fact]
    public async Task ExecuteAsync_NoPayload_SendsNullPayload()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 200));
        var executor = Executor(o => o.Url = server.BaseUrl);

        await executor.ExecuteAsync(Item(), CancellationToken.None);

        using var body = JsonDocument.Parse(Assert.Single(server.Received).Body);
        Assert.Equal(JsonValueKind.Null, body.RootElement.GetProperty("payload").ValueKind);
    }

    [Fact]
    public async Task ExecuteAsync_UrlWithEntityIdPlaceholder_FillsInEscapedEntityId()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 204));
        var executor = Executor(o =>
        {
            o.Url = server.BaseUrl + "items/{entityId}?source=test";
            o.Method = "put";
        });

        await executor.ExecuteAsync(Item("a b/c?d"), CancellationToken.None);

        var request = Assert.Single(server.Received);
        Assert.Equal("PUT", request.Method);
        Assert.Equal("/items/a%20b%2Fc%3Fd?source=test", request.RawUrl);
    }

    [Fact]
    public async Task ExecuteAsync_Get_SendsNoBody()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 200));
        var executor = Executor(o =>
        {
            o.Url = server.BaseUrl + "{entityId}";
            o.Method = "GET";
        });

        await executor.ExecuteAsync(Item("x1", "{}"), CancellationToken.None);

        var request = Assert.Single(server.Received);
        Assert.Equal("GET", request.Method);
        Assert.Equal("", request.Body);
    }

    [Fact]
    public async Task ExecuteAsync_ServerError_ThrowsWithMethodUrlStatusAndBody()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 500, "boom"));
        var url = server.BaseUrl + "prices/AAPL";
        var executor = Executor(o => o.Url = server.BaseUrl + "prices/{entityId}");

        var ex = await Assert.ThrowsAsync<HttpExecutorException>(() => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask());

        Assert.Equal(HttpStatusCode.InternalServerError, ex.StatusCode);
        Assert.Equal($"POST {url} returned 500 InternalServerError: boom", ex.Message);
    }

    [Fact]
    public async Task ExecuteAsync_LongErrorBody_KeepsFirst500Characters()
    {
        await using var server = LoopbackHttpServer.Start(
            (_, response) => LoopbackHttpServer.RespondAsync(response, 404, new string('Z', 5_000)));
        var executor = Executor(o => o.Url = server.BaseUrl);

        var ex = await Assert.ThrowsAsync<HttpExecutorException>(() => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask());

        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Equal(500, ex.Message.Count(c => c == 'Z'));
    }

    [Fact]
    public async Task ExecuteAsync_TooManyRequestsWithRetryAfterSeconds_DefersForThatLong()
    {
        await using var server = LoopbackHttpServer.Start((_, response) =>
        {
            response.AddHeader("Retry-After", "7");
            return LoopbackHttpServer.RespondAsync(response, 429);
        });
        var executor = Executor(o => o.Url = server.BaseUrl);

        var ex = await Assert.ThrowsAsync<WorkItemDeferredException>(() => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask());

        Assert.Equal(TimeSpan.FromSeconds(7), ex.RetryAfter);
        Assert.Equal($"HTTP 429 from {server.BaseUrl}: retry after 7s", ex.Message);
    }

    [Fact]
    public async Task ExecuteAsync_TooManyRequestsWithRetryAfterDate_DefersUntilThatDate()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
        await using var server = LoopbackHttpServer.Start((_, response) =>
        {
            response.AddHeader("Retry-After", "Sat, 01 Mar 2025 12:02:00 GMT");
            return LoopbackHttpServer.RespondAsync(response, 429);
        });
        var executor = Executor(o => o.Url = server.BaseUrl, clock);

        var ex = await Assert.ThrowsAsync<WorkItemDeferredException>(() => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask());

        Assert.Equal(TimeSpan.FromMinutes(2), ex.RetryAfter);
    }

    [Fact]
    public async Task ExecuteAsync_TooManyRequestsWithoutRetryAfter_DefersSixtySeconds()
    {
        await using var server = LoopbackHttpServer.Start((_, response) => LoopbackHttpServer.RespondAsync(response, 429));
        var executor = Executor(o => o.Url = server.BaseUrl);

        var ex = await Assert.ThrowsAsync<WorkItemDeferredException>(() => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask());

        Assert.Equal(TimeSpan.FromSeconds(60), ex.RetryAfter);
    }

    [Fact]
    public async Task ExecuteAsync_ServerSlowerThanTimeout_ThrowsTimeoutNamingUrlAndTimeout()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = LoopbackHttpServer.Start(async (_, response) =>
        {
            await release.Task;
            await LoopbackHttpServer.RespondAsync(response, 200);
        });
        var executor = Executor(o =>
        {
            o.Url = server.BaseUrl + "slow";
            o.Timeout = TimeSpan.FromMilliseconds(200);
        });

        try
        {
            var ex = await Assert.ThrowsAsync<TimeoutException>(
                () => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask().WaitAsync(TestGuard));

            Assert.Contains(server.BaseUrl + "slow", ex.Message);
            Assert.Contains("00:00:00.2000000", ex.Message);
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task ExecuteAsync_CallerCancels_ThrowsOperationCanceledNotTimeout()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = LoopbackHttpServer.Start(async (_, response) =>
        {
            arrived.SetResult();
            await release.Task;
            await LoopbackHttpServer.RespondAsync(response, 200);
        });
        var executor = Executor(o => o.Url = server.BaseUrl);
        using var cts = new CancellationTokenSource();

        try
        {
            var execution = executor.ExecuteAsync(Item(), cts.Token).AsTask();
            await arrived.Task.WaitAsync(TestGuard);
            await cts.CancelAsync();

            var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => execution.WaitAsync(TestGuard));
            Assert.Equal(cts.Token, ex.CancellationToken);
        }
        finally
        {
            release.SetResult();
        }
    }

    [Fact]
    public async Task ExecuteAsync_UrlNotConfigured_ThrowsNamingTheSetting()
    {
        var executor = Executor(_ => { });

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => executor.ExecuteAsync(Item(), CancellationToken.None).AsTask());

        Assert.StartsWith("DataTypes:dt:Http is invalid: Url is required", ex.Message);
    }
}
