using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using BatchScheduler.Executors.BuiltIn;

namespace BatchScheduler.Tests.Executors.BuiltIn;

/// <summary>A request as the loopback server saw it.</summary>
internal sealed record ReceivedRequest(string Method, string RawUrl, string? ContentType, string Body, string? Fence = null, string? Traceparent = null);

/// <summary>
/// A real HTTP server on 127.0.0.1 and a free port. Each request is recorded, then answered by
/// the test's handler.
/// </summary>
internal sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<ReceivedRequest, HttpListenerResponse, Task> _handler;
    private readonly ConcurrentQueue<ReceivedRequest> _received = new();
    private readonly List<Task> _handlers = [];
    private readonly Task _loop;

    private LoopbackHttpServer(HttpListener listener, string baseUrl, Func<ReceivedRequest, HttpListenerResponse, Task> handler)
    {
        _listener = listener;
        _handler = handler;
        BaseUrl = baseUrl;
        _loop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>e.g. http://127.0.0.1:51234/ (with the trailing slash).</summary>
    public string BaseUrl { get; }

    public IReadOnlyCollection<ReceivedRequest> Received => _received;

    public static LoopbackHttpServer Start(Func<ReceivedRequest, HttpListenerResponse, Task> handler)
    {
        // The port is free when probed but may be taken before HttpListener binds; try a few.
        for (int tries = 0; ; tries++)
        {
            var baseUrl = $"http://127.0.0.1:{FreePort()}/";
            var listener = new HttpListener();
            listener.Prefixes.Add(baseUrl);
            try
            {
                listener.Start();
                return new LoopbackHttpServer(listener, baseUrl, handler);
            }
            catch (HttpListenerException) when (tries < 5)
            {
                listener.Close();
            }
        }
    }

    public static async Task RespondAsync(HttpListenerResponse response, int status, string body = "")
    {
        response.StatusCode = status;
        var bytes = Encoding.UTF8.GetBytes(body);
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes);
        response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop;
        Task[] handlers;
        lock (_handlers)
        {
            handlers = [.. _handlers];
        }

        // A handler answering a client that already gave up (timeout, cancellation) may fail; that is expected.
        await Task.WhenAll(handlers).ContinueWith(_ => { }, TaskScheduler.Default);
        _listener.Close();
    }

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var request = new ReceivedRequest(
                context.Request.HttpMethod, context.Request.RawUrl ?? "", context.Request.ContentType, await reader.ReadToEndAsync(),
                context.Request.Headers[HttpExecutor.FenceHeader], context.Request.Headers["traceparent"]);
            _received.Enqueue(request);
            lock (_handlers)
            {
                _handlers.Add(Task.Run(() => _handler(request, context.Response)));
            }
        }
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }
}
