using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Executors.BuiltIn;

/// <summary>
/// Sends <c>{dataType, entityId, attempt, fence, payload}</c> as JSON (and the fence as the
/// <c>BatchScheduler-Fence</c> header) to the data type's
/// <see cref="HttpExecutorOptions.Url"/>. 2xx is success; 429 defers (Retry-After, else 60 s);
/// any other status or a timeout is a failure for the retry policy.
/// </summary>
internal sealed class HttpExecutor : IWorkItemExecutor
{
    /// <summary>The named <see cref="HttpClient"/> this executor uses; configure handlers on it.</summary>
    public const string HttpClientName = "BatchScheduler.Http";

    /// <summary>The request header carrying the attempt's fencing token (<see cref="WorkItemContext.Fence"/>).</summary>
    public const string FenceHeader = "BatchScheduler-Fence";

    internal static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(60);
    private const int MaxBodyChars = 500;
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private readonly IHttpClientFactory _clientFactory;
    private readonly IOptionsMonitor<HttpExecutorOptions> _options;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates the executor.</summary>
    /// <param name="clientFactory">Supplies the <see cref="HttpClientName"/> client.</param>
    /// <param name="options">Named per data type.</param>
    /// <param name="timeProvider">Clock for Retry-After dates; the system clock when null.</param>
    public HttpExecutor(IHttpClientFactory clientFactory, IOptionsMonitor<HttpExecutorOptions> options, TimeProvider? timeProvider = null)
    {
        _clientFactory = clientFactory ?? throw new ArgumentNullException(nameof(clientFactory));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = _options.Get(context.DataType);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(
                $"DataTypes:{context.DataType}:Http is invalid: {string.Join("; ", problems)}");
        }

        var method = options.Method.ToUpperInvariant();
        var url = options.Url!.Replace(
            HttpExecutorOptions.EntityIdPlaceholder, Uri.EscapeDataString(context.EntityId), StringComparison.Ordinal);

        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        // The attempt's fence, so the service can refuse a write from an attempt that has been superseded.
        request.Headers.TryAddWithoutValidation(FenceHeader, context.Fence.ToString(CultureInfo.InvariantCulture));
        if (method != "GET")
        {
            var body = new HttpWorkItemRequest(context.DataType, context.EntityId, context.Attempt, context.Fence, context.Payload);
            request.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body, JsonOptions));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        using var client = _clientFactory.CreateClient(HttpClientName);
        client.Timeout = Timeout.InfiniteTimeSpan; // our own per-data-type timeout applies instead

        try
        {
            using var response = await client
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token)
                .ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                var retryAfter = RetryAfter(response);
                throw new WorkItemDeferredException(
                    retryAfter,
                    $"HTTP 429 from {url}: retry after {Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture)}s");
            }

            var bodyStart = await ReadStartAsync(response, timeout.Token).ConfigureAwait(false);
            throw new HttpExecutorException(
                response.StatusCode,
                $"{method} {url} returned {(int)response.StatusCode} {response.StatusCode}: {bodyStart}");
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            // Carry the caller's token, not the linked one, so the caller recognises its own cancellation.
            throw new OperationCanceledException(ex.Message, ex, cancellationToken);
        }
        catch (OperationCanceledException ex) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"{method} {url} did not complete within the timeout of {options.Timeout:c}", ex);
        }
    }

    private TimeSpan RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - _timeProvider.GetUtcNow();
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return DefaultRetryAfter;
    }

    private static async Task<string> ReadStartAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        // Only the start is kept, so an endless or huge error page is never read whole.
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var reader = new StreamReader(stream);
            var buffer = new char[MaxBodyChars];
            int read = await reader.ReadBlockAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false);
            return new string(buffer, 0, read);
        }
    }
}
