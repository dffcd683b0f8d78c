using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace BatchScheduler.Tests.Docs;

/// <summary>
/// What the docs say a command answers: the HTTP statuses a comment names after an arrow
/// (<c># → 204</c>, <c># → 200, or 409 if …</c>; any 2xx when none is named), the JSON
/// properties it shows after them (<c>→ 200 {"accepted":2}</c>), and the exit code a following
/// <c>echo $?   # 1</c> names (0 when none).
/// </summary>
public sealed partial record ExpectedAnswer(IReadOnlyList<int> Statuses, JsonObject? Body, int ExitCode)
{
    public static readonly ExpectedAnswer Success = new([], null, 0);

    /// <summary>The answer <paramref name="comment"/> names, or null when it names no status.</summary>
    public static ExpectedAnswer? FromComment(string comment)
    {
        var match = Arrow().Match(comment);
        if (!match.Success)
            return null;
        var statuses = Status().Matches(match.Groups["statuses"].Value).Select(m => int.Parse(m.Value)).ToList();
        return new ExpectedAnswer(statuses, JsonObjectAt(match.Groups["rest"].Value.Trim()), 0);
    }

    public bool Accepts(int status) => Statuses.Count == 0 ? status is >= 200 and < 300 : Statuses.Contains(status);

    /// <summary>The shown properties the answer lacks or has with another value, or none.</summary>
    public IEnumerable<string> Mismatches(string body)
    {
        if (Body is null)
            yield break;
        var actual = JsonObjectAt(body.Trim());
        foreach (var (name, value) in Body)
        {
            if (actual is null || !actual.TryGetPropertyValue(name, out var got) || !JsonNode.DeepEquals(value, got))
                yield return $"\"{name}\": {value?.ToJsonString() ?? "null"}";
        }
    }

    public override string ToString() =>
        (Statuses.Count == 0 ? "2xx" : string.Join(" or ", Statuses)) + (Body is null ? "" : $" {Body.ToJsonString()}");

    /// <summary>The text as a JSON object; null when it is not one (e.g. the docs' abbreviated <c>{"id","status",…}</c>).</summary>
    private static JsonObject? JsonObjectAt(string text)
    {
        if (!text.StartsWith('{'))
            return null;
        try
        {
            return JsonNode.Parse(text) as JsonObject;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"→\s*(?<statuses>\d{3}(?:\s*,?\s*or\s+\d{3})*)\b(?<rest>.*)$")]
    private static partial Regex Arrow();

    [GeneratedRegex(@"\d{3}")]
    private static partial Regex Status();
}
