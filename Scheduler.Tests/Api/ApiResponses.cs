using System.Net;
using System.Text.Json;

namespace BatchScheduler.Tests.Api;

/// <summary>Reads what the API answered, for assertions that say what was expected.</summary>
public static class ApiResponses
{
    /// <summary>The body as JSON; fails the test with the body text when it is not JSON.</summary>
    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new Xunit.Sdk.XunitException($"Expected a JSON body from {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} ({(int)response.StatusCode}), got: '{text}' ({ex.Message})");
        }
    }

    /// <summary>Asserts the status and returns the problem-details <c>detail</c>.</summary>
    public static async Task<string> ProblemDetailAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode,
            $"Expected {(int)expected} from {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}, got {(int)response.StatusCode}: {body}");
        Assert.StartsWith("application/problem+json", response.Content.Headers.ContentType?.ToString());
        using var document = JsonDocument.Parse(body);
        Assert.Equal((int)expected, document.RootElement.GetProperty("status").GetInt32());
        return document.RootElement.GetProperty("detail").GetString() ?? "";
    }
}
