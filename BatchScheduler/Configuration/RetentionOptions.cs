using Microsoft.Extensions.Options;

namespace BatchScheduler.Configuration;

/// <summary>How long rows of the bounded tables are kept, and how the deleting paces itself (section <c>Retention</c>).</summary>
internal sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary>The longest age any retention setting accepts (about 100 years): keep rows "for ever" with it.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromDays(36_500);

    /// <summary>How often each node deletes what has aged out (its first pass one interval after it starts).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Rows one statement deletes at most, each statement its own short transaction, repeated until a table has nothing
    /// older left. Under 5,000: SQL Server escalates a statement's row locks to a table lock at 5,000.
    /// </summary>
    public int ChunkSize { get; set; } = 4_000;

    /// <summary>Failure rows (<c>failures</c>).</summary>
    public FailureRetentionOptions Failures { get; set; } = new();

    /// <summary>How long the per-minute aggregate (<c>stats_minutely</c>) behind the dashboard's charts is kept, by its minute.</summary>
    public TimeSpan MinuteStats { get; set; } = TimeSpan.FromDays(7);

    /// <summary>How long audit rows (<c>audit_log</c>) are kept, by <c>recorded_at</c>.</summary>
    public TimeSpan Audit { get; set; } = TimeSpan.FromDays(90);
}

/// <summary>How long failure rows are kept (section <c>Retention:Failures</c>).</summary>
internal sealed class FailureRetentionOptions
{
    /// <summary>A row marked done goes this long after it was marked done (<c>done_at</c>).</summary>
    public TimeSpan Done { get; set; } = TimeSpan.FromDays(7);

    /// <summary>A row not marked done goes this long after the attempt failed (<c>failed_at</c>).</summary>
    public TimeSpan Open { get; set; } = TimeSpan.FromDays(30);
}

/// <summary>A data type's retention (section <c>DataTypes:&lt;name&gt;:Retention</c>).</summary>
internal sealed class DataTypeRetentionOptions
{
    /// <summary>
    /// How long a completed one-shot item (a tier with no cadence) stays once it completed (or was last re-registered,
    /// whichever is later) before its row is deleted; null (the default): kept until deleted or its batch is archived.
    /// </summary>
    public TimeSpan? Completed { get; set; }
}

/// <summary>Validates <see cref="RetentionOptions"/>: every age positive, the pacing sane.</summary>
internal sealed class RetentionOptionsValidator : IValidateOptions<RetentionOptions>
{
    /// <summary>The charts show the last 24 hours: the aggregate is kept at least that long.</summary>
    public static readonly TimeSpan MinMinuteStats = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, RetentionOptions o)
    {
        var errors = new List<string>();
        var s = RetentionOptions.Section;
        if (o.Interval < TimeSpan.FromSeconds(1) || o.Interval > TimeSpan.FromDays(1))
            errors.Add($"{s}:{nameof(o.Interval)} must be between 00:00:01 and 1.00:00:00 (was {o.Interval:c}).");
        if (o.ChunkSize is < 1 or > 50_000)
            errors.Add($"{s}:{nameof(o.ChunkSize)} must be between 1 and 50000 rows per statement (was {o.ChunkSize}); keep it under 5000 on SQL Server.");
        Age($"{s}:{nameof(o.Failures)}:{nameof(o.Failures.Done)}", o.Failures.Done, errors);
        Age($"{s}:{nameof(o.Failures)}:{nameof(o.Failures.Open)}", o.Failures.Open, errors);
        Age($"{s}:{nameof(o.Audit)}", o.Audit, errors);
        if (o.MinuteStats < MinMinuteStats || o.MinuteStats > RetentionOptions.MaxAge)
            errors.Add($"{s}:{nameof(o.MinuteStats)} must be between {MinMinuteStats:c} (the dashboard's charts show the last 24 hours) and {RetentionOptions.MaxAge:c} (was {o.MinuteStats:c}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Adds an error naming <paramref name="key"/> unless <paramref name="age"/> is a positive age up to <see cref="RetentionOptions.MaxAge"/>.</summary>
    public static void Age(string key, TimeSpan age, List<string> errors)
    {
        if (age <= TimeSpan.Zero || age > RetentionOptions.MaxAge)
            errors.Add($"{key} must be a positive age such as \"7.00:00:00\", at most {RetentionOptions.MaxAge:c} (was {age:c}).");
    }
}
