namespace BatchScheduler.Executors.BuiltIn;

/// <summary>
/// Simulated work for the <c>demo</c> executor; bound per data type from
/// <c>DataTypes:&lt;name&gt;:Demo</c> as named options (name = data type).
/// </summary>
internal sealed class DemoExecutorOptions
{
    internal static readonly TimeSpan MaxDuration = TimeSpan.FromMinutes(1);

    /// <summary>Share of attempts that fail at random, 0 to 1.</summary>
    public double FailureRate { get; set; }

    /// <summary>How long each simulated call takes, 0 to 1 minute.</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Entity ids that fail on every attempt, to show a dead-letter deterministically.</summary>
    public string[] AlwaysFail { get; set; } = [];

    /// <summary>
    /// Returns the problems with these settings, each naming the key relative to the <c>Demo</c>
    /// section, the value and what is allowed; empty when valid.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (double.IsNaN(FailureRate) || FailureRate is < 0 or > 1)
        {
            problems.Add($"FailureRate must be between 0 and 1 (was {FailureRate})");
        }

        if (Duration < TimeSpan.Zero || Duration > MaxDuration)
        {
            problems.Add($"Duration must be between 00:00:00 and {MaxDuration:c} (was {Duration:c})");
        }

        if (AlwaysFail is null)
        {
            problems.Add("AlwaysFail must be a list of entity ids (was null)");
        }
        else if (AlwaysFail.Any(string.IsNullOrWhiteSpace))
        {
            problems.Add("AlwaysFail must not contain empty entity ids");
        }

        return problems;
    }
}
