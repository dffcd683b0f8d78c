using System.Net.Http.Json;
using System.Text.Json;
using BatchScheduler.Cli.Submit;

namespace BatchScheduler.Cli;

/// <summary>
/// <c>Scheduler pause|resume DATA_TYPE [ENTITY_ID] [--reason …]</c>: pauses or resumes a data type (or one
/// item) on a running node, through its API (<c>POST /api/data-types/{dataType}/pause</c> and friends).
/// Exit codes as <c>submit</c>'s: 0 done, 2 usage error or refused (4xx), 3 node unreachable, 5xx or timeout.
/// </summary>
internal static class PauseCommand
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(100);

    /// <summary>What to pause or resume, and where.</summary>
    public sealed record Request(bool Pause, string DataType, string? EntityId, string? Reason, Uri Url, string? ApiKey);

    public static async Task<int> RunAsync(Request request, HttpClient http, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var what = request.EntityId is null ? $"data type {request.DataType}" : $"work item {request.DataType}/{request.EntityId}";
        if (request.Pause && string.IsNullOrWhiteSpace(request.Reason))
        {
            await error.WriteLineAsync($"Say why with --reason \"…\": it is shown with the pause (e.g. --reason \"vendor outage\").");
            return SubmitCommand.UsageError;
        }
        var path = request.EntityId is null
            ? $"api/data-types/{Uri.EscapeDataString(request.DataType)}"
            : $"api/work-items/{Uri.EscapeDataString(request.DataType)}/{Uri.EscapeDataString(request.EntityId)}";
        var uri = new Uri(new Uri(request.Url.AbsoluteUri.TrimEnd('/') + "/"), $"{path}/{(request.Pause ? "pause" : "resume")}");
        using var message = new HttpRequestMessage(HttpMethod.Post, uri);
        if (request.Pause)
            message.Content = JsonContent.Create(new { reason = request.Reason });
        if (!string.IsNullOrEmpty(request.ApiKey))
            message.Headers.Add("X-Api-Key", request.ApiKey);
        message.Headers.Add(Admin.CrossSiteRequests.Header, "BatchScheduler CLI");
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(RequestTimeout);
        try
        {
            using var response = await http.SendAsync(message, limit.Token);
            var body = await response.Content.ReadAsStringAsync(limit.Token);
            if (!response.IsSuccessStatusCode)
            {
                await error.WriteLineAsync($"The node refused to {(request.Pause ? "pause" : "resume")} {what}: {(int)response.StatusCode} {Detail(body)}");
                return (int)response.StatusCode >= 500 ? SubmitCommand.NodeUnavailable : SubmitCommand.UsageError;
            }
            await output.WriteLineAsync(Describe(what, request.EntityId is null, body));
            return SubmitCommand.Completed;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"The node at {request.Url} could not be reached: {ex.Message}");
            return SubmitCommand.NodeUnavailable;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync($"The node at {request.Url} did not answer in time.");
            return SubmitCommand.NodeUnavailable;
        }
    }

    /// <summary>One line saying where it stands now, from the node's answer.</summary>
    private static string Describe(string what, bool dataType, string body)
    {
        try
        {
            var answer = JsonDocument.Parse(body).RootElement;
            if (dataType)
            {
                return answer.GetProperty("paused").GetBoolean()
                    ? $"{what} paused by {Text(answer, "pausedBy")}: {Text(answer, "pausedReason")}"
                    : $"{what} resumed: what fell due runs once, stalest first.";
            }
            return answer.TryGetProperty("paused", out var paused) && paused.ValueKind == JsonValueKind.Object
                ? $"{what} paused by {Text(paused, "by")}: {Text(paused, "reason")} (state {Text(answer, "state")})"
                : $"{what} resumed (state {Text(answer, "state")}).";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return $"{what}: done.";
        }
    }

    private static string Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "?";

    private static string Detail(string body)
    {
        try
        {
            if (JsonDocument.Parse(body).RootElement.TryGetProperty("detail", out var detail) && detail.ValueKind == JsonValueKind.String)
                return detail.GetString()!;
        }
        catch (JsonException)
        {
            // Not a problem document: show the text.
        }
        return body.Length > 300 ? body[..300] + "…" : body;
    }
}
