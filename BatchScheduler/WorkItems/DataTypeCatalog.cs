using BatchScheduler.Configuration;
using BatchScheduler.Executors.Contract;
using BatchScheduler.Retry;
using BatchScheduler.Time;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace BatchScheduler.WorkItems;

/// <summary>A configured data type with its executor resolved and its tiers worked out.</summary>
internal sealed class DataTypeDefinition(string name, DataTypeOptions options, IWorkItemExecutor executor)
{
    public string Name { get; } = name;

    public DataTypeOptions Options { get; } = options;

    public IWorkItemExecutor Executor { get; } = executor;

    /// <summary>The data type's time zone, cadences and quiet hours (settings validated at start).</summary>
    public DataTypeTime Time { get; } = DataTypeTime.Read($"{DataTypeOptions.Section}:{name}", options, []);

    /// <summary>The zone cron cadences and quiet hours are in (for display: next runs in it and in UTC).</summary>
    public TimeZoneInfo TimeZone => Time.Zone;

    /// <summary>The quiet hours as stored in Quartz (<c>qrtz_calendars</c>), or null when the data type has none.</summary>
    public QuietHoursCalendar? QuietHours => Time.QuietHours;

    /// <summary>The name of the calendar on the data type's triggers, or null when it has no quiet hours.</summary>
    public string? CalendarName => QuietHours is null ? null : QuietHoursCalendar.CalendarName(Name);

    /// <summary>The tier items get when registered without one, or null when the data type has no tiers.</summary>
    public string? DefaultTier => Options.DefaultTier is { Length: > 0 } t
        ? t
        : Time.Cadences.Where(c => c.Value is not null).OrderBy(c => c.Value!.Interval ?? TimeSpan.MaxValue).Select(c => c.Key).FirstOrDefault()
          ?? Options.Cadence.Keys.FirstOrDefault();

    /// <summary>The cadence of <paramref name="tier"/>; null for a tier that runs once (or no tier).</summary>
    public Cadence? CadenceOf(string? tier) => Time.CadenceOf(tier);

    /// <summary>Each tier's cadence as configured (<c>"00:15:00"</c>, <c>"cron:0 0 8 * * ?"</c>; null: runs once), for the API and dashboard.</summary>
    public IReadOnlyDictionary<string, string?> CadenceTexts => Time.Cadences.ToDictionary(c => c.Key, c => c.Value?.ToString(), StringComparer.Ordinal);

    /// <summary>The quiet-hours windows, for the API and dashboard (empty: none).</summary>
    public IReadOnlyList<QuietWindow> QuietWindows => QuietHours?.Windows ?? [];

    /// <summary>The quiet hours as text (<c>"22:00-07:00 every day"</c>), or null when the data type has none.</summary>
    public string? QuietHoursText => QuietHours is null ? null : string.Join("; ", QuietHours.Windows);

    /// <summary>Why <paramref name="tier"/> cannot be used, or null when it can.</summary>
    public string? RejectTier(string? tier)
    {
        if (tier is { Length: > Tiers.MaxLength })
            return $"The tier is {tier.Length} characters long; tiers may have at most {Tiers.MaxLength}.";
        if (tier is null || tier == Tiers.Exclude || Options.Cadence.Count == 0 || Options.Cadence.ContainsKey(tier))
            return null;
        return $"Unknown tier '{tier}' for data type '{Name}'; use one of: {string.Join(", ", Options.Cadence.Keys.Append(Tiers.Exclude))}.";
    }

    public RetryPlanner CreateRetryPlanner() => new(Options.Retry, Options.Expiry, Random.Shared.NextDouble);
}

/// <summary>All data types this node knows, resolved once at start from validated settings.</summary>
/// <remarks>
/// Resolved on first use rather than when constructed, so that building the host's services
/// never validates settings early: the host validates every section at start and reports all
/// bad keys together.
/// </remarks>
internal sealed class DataTypeCatalog(IOptions<DataTypesOptions> options, IServiceProvider services)
{
    private readonly Lazy<Dictionary<string, DataTypeDefinition>> _byName = new(() => options.Value.Items.ToDictionary(
        kv => kv.Key,
        kv => new DataTypeDefinition(kv.Key, kv.Value, services.GetRequiredKeyedService<IWorkItemExecutor>(kv.Value.Executor)),
        StringComparer.Ordinal));

    public IReadOnlyCollection<DataTypeDefinition> All => _byName.Value.Values;

    public bool TryGet(string name, out DataTypeDefinition definition) =>
        _byName.Value.TryGetValue(name, out definition!);

    /// <summary>The message for an unknown data type, listing the configured ones.</summary>
    public string Unknown(string name) =>
        $"Unknown data type '{name}'; configured data types: {string.Join(", ", _byName.Value.Keys.Order(StringComparer.Ordinal))}.";
}
