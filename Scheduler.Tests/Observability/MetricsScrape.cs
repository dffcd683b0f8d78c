using System.Globalization;
using System.Net;
using BatchScheduler.Executors.Contract;

namespace BatchScheduler.Tests.Observability;

/// <summary>One <c>/metrics</c> answer, parsed: each sample line's series (name and labels as written) and value.</summary>
public sealed class MetricsScrape
{
    private MetricsScrape(string text, IReadOnlyDictionary<string, double> samples)
    {
        Text = text;
        Samples = samples;
    }

    public string Text { get; }

    public IReadOnlyDictionary<string, double> Samples { get; }

    public static async Task<MetricsScrape> GetAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"/metrics answered {(int)response.StatusCode}: {text}");
        return Parse(text);
    }

    public static MetricsScrape Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
                continue;
            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return new MetricsScrape(text, samples);
    }

    /// <summary>The value of <paramref name="series"/>, e.g. <c>batchscheduler_items{data_type="x",state="completed"}</c>; null when absent.</summary>
    public double? Value(string series) => Samples.TryGetValue(series, out var value) ? value : null;

    /// <summary>Series whose name (before any labels) is <paramref name="name"/>.</summary>
    public IEnumerable<string> SeriesOf(string name) =>
        Samples.Keys.Where(k => k == name || k.StartsWith(name + "{", StringComparison.Ordinal));

    /// <summary>The <c># TYPE</c> line's type of <paramref name="name"/>.</summary>
    public string? TypeOf(string name) =>
        Text.Split('\n').FirstOrDefault(l => l.StartsWith($"# TYPE {name} ", StringComparison.Ordinal))?.Split(' ')[3].Trim();
}

/// <summary>Succeeds, fails or defers by the entity id's prefix: <c>ok-</c>, <c>bad-</c>, <c>later-</c>.</summary>
public sealed class ScriptedExecutor : IWorkItemExecutor
{
    public ValueTask ExecuteAsync(WorkItemContext context, CancellationToken cancellationToken)
    {
        if (context.EntityId.StartsWith("bad-", StringComparison.Ordinal))
            throw new InvalidOperationException($"Scripted failure of {context.EntityId}");
        if (context.EntityId.StartsWith("later-", StringComparison.Ordinal))
            throw new WorkItemDeferredException(TimeSpan.FromHours(1), "Scripted: try again in an hour");
        return ValueTask.CompletedTask;
    }
}
