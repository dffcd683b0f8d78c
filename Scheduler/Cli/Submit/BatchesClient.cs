using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace BatchScheduler.Cli.Submit;

/// <summary>The node's <c>/api/batches</c> routes, with every failure turned into a <see cref="SubmitFailedException"/>.</summary>
internal sealed class BatchesClient(SubmitOptions options, HttpClient http)
{
    private static readonly JsonSerializerOptions Json = JsonSerializerOptions.Web;

    public SubmitOptions Options => options;

    public Uri Batches { get; } = new(new Uri(options.Url.AbsoluteUri.TrimEnd('/') + "/"), "api/batches");

    public Uri BatchUri(string id) => new($"{Batches.AbsoluteUri}/{Uri.EscapeDataString(id)}");

    public async Task<BatchSnapshot> SubmitAsync(Stream file, string mediaType, CancellationToken cancellationToken)
    {
        var query = $"?dataType={Uri.EscapeDataString(options.DataType)}";
        if (options.Deadline is { } deadline)
            query += $"&deadline={Uri.EscapeDataString(deadline.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))}";
        if (options.CallbackUrl is { } callback)
            query += $"&callbackUrl={Uri.EscapeDataString(callback.AbsoluteUri)}";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Batches.AbsoluteUri + query)) { Content = new StreamContent(file) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return await ExchangeAsync(request, timeout: null, cancellationToken);
    }

    public async Task<BatchSnapshot> GetAsync(string id, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BatchUri(id));
        return await ExchangeAsync(request, options.PollTimeout, cancellationToken);
    }

    private async Task<BatchSnapshot> ExchangeAsync(HttpRequestMessage request, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(options.ApiKey))
            request.Headers.Add("X-Api-Key", options.ApiKey);
        request.Headers.Add(Admin.CrossSiteRequests.Header, "BatchScheduler submit");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (timeout is { } t)
            limit.CancelAfter(t);
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
            var body = await response.Content.ReadAsStringAsync(limit.Token);
            if (!response.IsSuccessStatusCode)
                throw Refused(response, body);
            return ReadBatch(response, body);
        }
        catch (HttpRequestException ex)
        {
            throw new SubmitFailedException(SubmitCommand.NodeUnavailable, $"The node at {options.Url} could not be reached: {ex.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SubmitFailedException(SubmitCommand.NodeUnavailable, $"The node at {options.Url} did not answer {request.Method} {request.RequestUri?.AbsolutePath} in time.");
        }
    }

    private static BatchSnapshot ReadBatch(HttpResponseMessage response, string body)
    {
        try
        {
            if (JsonSerializer.Deserialize<BatchSnapshot>(body, Json) is { Id.Length: > 0, Status.Length: > 0 } batch)
                return batch;
        }
        catch (JsonException)
        {
            // Reported below with what the node did send.
        }
        throw new SubmitFailedException(SubmitCommand.NodeUnavailable,
            $"The node answered {(int)response.StatusCode} but not with a batch: {Excerpt(body)}");
    }

    private SubmitFailedException Refused(HttpResponseMessage response, string body)
    {
        var status = (int)response.StatusCode;
        var what = ProblemText(body) ?? (body.Length > 0 ? Excerpt(body) : response.ReasonPhrase ?? "no reason given");
        if (status is >= 400 and < 500)
        {
            var hint = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                ? " Pass an API key with --api-key or BATCHSCHEDULER_API_KEY."
                : "";
            return new SubmitFailedException(SubmitCommand.UsageError, $"The node refused the request ({status}): {what}{hint}");
        }
        return new SubmitFailedException(SubmitCommand.NodeUnavailable, $"The node failed ({status}): {what}");
    }

    /// <summary>The RFC 7807 problem's detail (else its title), or null when the body is not one.</summary>
    private static string? ProblemText(string body)
    {
        try
        {
            var problem = JsonSerializer.Deserialize<Problem>(body, Json);
            return string.IsNullOrWhiteSpace(problem?.Detail) ? problem?.Title : problem.Detail;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Excerpt(string body) => body.Length <= 200 ? body : body[..200] + "…";

    private sealed record Problem(string? Title, string? Detail, int? Status);
}
