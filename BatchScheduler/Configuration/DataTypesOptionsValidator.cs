using BatchScheduler.Executors.BuiltIn;
using BatchScheduler.Executors.Contract;
using BatchScheduler.WorkItems;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Configuration;

/// <summary>
/// Refuses a node whose data types cannot work: every message names the setting, the value and
/// what is allowed, so the fix is in the message.
/// </summary>
internal sealed class DataTypesOptionsValidator(
    IEnumerable<ExecutorRegistration> executors,
    IOptions<VendorsOptions> vendors,
    IOptions<ClusterOptions> cluster,
    IOptionsMonitor<HttpExecutorOptions> httpOptions,
    IOptionsMonitor<DemoExecutorOptions> demoOptions) : IValidateOptions<DataTypesOptions>
{
    /// <summary>The longest <c>DataTypes:&lt;name&gt;:Timeout</c>.</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(1);

    public ValidateOptionsResult Validate(string? name, DataTypesOptions options)
    {
        var known = executors.Select(e => e.Name).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var errors = new List<string>();
        foreach (var (dataType, dt) in options.Items)
        {
            var key = $"{DataTypeOptions.Section}:{dataType}";
            if (!SettingNames.IsValidName(dataType))
                errors.Add($"{key}: the data type name '{dataType}' is not allowed; use {SettingNames.NameRule}.");
            if (string.IsNullOrWhiteSpace(dt.Executor))
                errors.Add($"{key}:Executor is missing; set it to one of: {string.Join(", ", known)}.");
            else if (!known.Contains(dt.Executor, StringComparer.Ordinal))
                errors.Add($"{key}:Executor '{dt.Executor}' is not a registered executor; known executors: {string.Join(", ", known)}.");
            ValidateTiers(key, dt, errors);
            Time.DataTypeTime.Read(key, dt, errors);
            errors.AddRange(dt.Retry.Validate().Select(e => $"{key}:Retry:{e}"));
            if (dt.Expiry is { } expiry && expiry <= TimeSpan.Zero)
                errors.Add($"{key}:Expiry must be a positive duration such as \"01:00:00\" (was {expiry}).");
            if (dt.Timeout is { } timeout && (timeout <= TimeSpan.Zero || timeout > MaxTimeout))
                errors.Add($"{key}:Timeout must be greater than 00:00:00 and at most {MaxTimeout:c}, such as \"00:05:00\" (was {timeout:c}); leave it out for no limit.");
            if (dt.Retention.Completed is { } completed)
                RetentionOptionsValidator.Age($"{key}:{nameof(dt.Retention)}:{nameof(dt.Retention.Completed)}", completed, errors);
            if (dt.Vendor is { Length: > 0 } vendor && !vendors.Value.Items.ContainsKey(vendor))
                errors.Add($"{key}:Vendor '{vendor}' is not configured under {VendorOptions.Section}; configured: {string.Join(", ", vendors.Value.Items.Keys)}.");
            if (dt.CreditsPerCall < 0)
                errors.Add($"{key}:CreditsPerCall must be 0 or more (was {dt.CreditsPerCall}).");
            else if (dt.Vendor is { Length: > 0 } v && vendors.Value.Items.TryGetValue(v, out var budget) && budget.Credits > 0 && dt.CreditsPerCall > budget.Credits)
                errors.Add($"{key}:CreditsPerCall {dt.CreditsPerCall} is more than {VendorOptions.Section}:{v}:Credits ({budget.Credits}): no window could ever pay for a call.");
            if (dt.Executor == BuiltInExecutors.Http)
                errors.AddRange(httpOptions.Get(dataType).Validate().Select(e => $"{key}:Http:{e}"));
            if (dt.Executor == BuiltInExecutors.Demo)
                errors.AddRange(demoOptions.Get(dataType).Validate().Select(e => $"{key}:Demo:{e}"));
        }
        ValidateDependencies(options, errors);
        ValidateLimits(options, cluster.Value, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Every <c>DependsOn</c> names a configured data type, and no data type depends on itself, however indirectly.</summary>
    private static void ValidateDependencies(DataTypesOptions options, List<string> errors)
    {
        foreach (var (dataType, dt) in options.Items)
        {
            foreach (var upstream in dt.DependsOn.Where(u => !options.Items.ContainsKey(u)))
                errors.Add($"{DataTypeOptions.Section}:{dataType}:DependsOn names '{upstream}', which is not a configured data type; configured: {string.Join(", ", options.Items.Keys.Order(StringComparer.Ordinal))}.");
        }
        // Depth-first search; a data type met again on the current path closes a cycle.
        var done = new HashSet<string>(StringComparer.Ordinal);
        var path = new List<string>();
        foreach (var start in options.Items.Keys.Order(StringComparer.Ordinal))
        {
            if (Visit(start) is { } cycle)
            {
                errors.Add($"{DataTypeOptions.Section}:*:DependsOn has a cycle: {string.Join(" -> ", cycle)}. A data type cannot wait for itself; remove one of these dependencies.");
                return;
            }
        }

        List<string>? Visit(string dataType)
        {
            if (done.Contains(dataType) || !options.Items.TryGetValue(dataType, out var dt))
                return null;
            var at = path.IndexOf(dataType);
            if (at >= 0)
                return [.. path.Skip(at), dataType];
            path.Add(dataType);
            foreach (var upstream in dt.DependsOn)
            {
                if (Visit(upstream) is { } cycle)
                    return cycle;
            }
            path.RemoveAt(path.Count - 1);
            done.Add(dataType);
            return null;
        }
    }

    /// <summary>
    /// Issue 22: <c>MaxConcurrency</c> and <c>MaxConcurrencyPerNode</c> are positive, and <c>Cluster:DataTypes</c>
    /// names configured data types. A limited or pooled data type cannot be called <c>null</c>: Quartz's
    /// execution limits reserve that name for the triggers without a group (<see cref="Limits.DataTypeLimits"/>).
    /// </summary>
    private static void ValidateLimits(DataTypesOptions options, ClusterOptions cluster, List<string> errors)
    {
        foreach (var (dataType, dt) in options.Items)
        {
            var key = $"{DataTypeOptions.Section}:{dataType}";
            if (dt.MaxConcurrency is < 1)
                errors.Add($"{key}:{nameof(DataTypeOptions.MaxConcurrency)} must be a positive number of items running at once across the cluster, or left out for no limit (was {dt.MaxConcurrency}).");
            if (dt.MaxConcurrencyPerNode is < 1)
                errors.Add($"{key}:{nameof(DataTypeOptions.MaxConcurrencyPerNode)} must be a positive number of items running at once on each node, or left out for no limit (was {dt.MaxConcurrencyPerNode}).");
            var limited = dt.MaxConcurrency is not null || dt.MaxConcurrencyPerNode is not null || cluster.DataTypes.Count > 0;
            if (limited && string.Equals(dataType, "null", StringComparison.OrdinalIgnoreCase))
                errors.Add($"{key}: a data type named '{dataType}' cannot have a concurrency limit or be left out of {ClusterOptions.Section}:{nameof(ClusterOptions.DataTypes)} (Quartz reserves the name); rename the data type.");
        }
        for (var i = 0; i < cluster.DataTypes.Count; i++)
        {
            if (!options.Items.ContainsKey(cluster.DataTypes[i]))
                errors.Add($"{ClusterOptions.Section}:{nameof(ClusterOptions.DataTypes)}:{i} '{cluster.DataTypes[i]}' is not a data type configured under {DataTypeOptions.Section}; configured: {string.Join(", ", options.Items.Keys.Order(StringComparer.Ordinal))}.");
        }
    }

    private static void ValidateTiers(string key, DataTypeOptions dt, List<string> errors)
    {
        foreach (var (tier, text) in dt.Cadence)
        {
            if (tier == Tiers.Exclude || !SettingNames.IsValidName(tier) || tier.Length > Tiers.MaxLength)
                errors.Add($"{key}:Cadence:{tier}: tier names use {SettingNames.NameRule} (at most {Tiers.MaxLength} for a tier), and '{Tiers.Exclude}' is reserved for items that never run.");
            if (text is not null && TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var c) && c < TimeSpan.FromSeconds(1))
                errors.Add($"{key}:Cadence:{tier} must be at least 00:00:01, or empty for a tier that runs once (was {c}).");
        }
        if (dt.DefaultTier is { Length: > 0 } defaultTier && !dt.Cadence.ContainsKey(defaultTier))
            errors.Add($"{key}:DefaultTier '{defaultTier}' is not one of the tiers under {key}:Cadence ({string.Join(", ", dt.Cadence.Keys)}).");
    }
}
