using System.Globalization;

namespace BatchScheduler.Configuration;

/// <summary>
/// Binds sections whose children are named entries (<c>DataTypes:&lt;name&gt;</c>,
/// <c>Vendors:&lt;name&gt;</c>). Binding straight into a dictionary silently skips an entry whose
/// value does not convert, which would make a data type vanish; binding entry by entry makes such
/// a value stop the node with an error naming its key.
/// </summary>
internal static class NamedSectionBinder
{
    public static void BindEach<T>(IConfigurationSection section, Dictionary<string, T> target, Action<IConfigurationSection, T>? also = null)
        where T : new()
    {
        foreach (var child in section.GetChildren())
        {
            var value = new T();
            child.Bind(value);
            also?.Invoke(child, value);
            target[child.Key] = value;
        }
    }

    /// <summary>
    /// A data type's <c>Cadence</c>: every tier's duration must parse (a <c>cron:</c> cadence is checked with
    /// the data type's time zone, by the validator); an empty one means "runs once".
    /// </summary>
    public static void BindCadence(IConfigurationSection dataType, DataTypeOptions options)
    {
        options.Cadence.Clear();
        foreach (var tier in dataType.GetSection("Cadence").GetChildren())
        {
            if (string.IsNullOrWhiteSpace(tier.Value))
            {
                options.Cadence[tier.Key] = null;
                continue;
            }
            if (tier.Value.StartsWith(Time.Cadence.CronPrefix, StringComparison.OrdinalIgnoreCase))
            {
                options.Cadence[tier.Key] = tier.Value;
                continue;
            }
            if (!TimeSpan.TryParse(tier.Value, CultureInfo.InvariantCulture, out var cadence))
            {
                throw new InvalidOperationException(
                    $"Failed to convert configuration value at '{tier.Path}' to a duration such as \"01:00:00\" or a cron cadence such as \"cron:0 0 22 ? * MON-FRI\" (was '{tier.Value}').");
            }
            options.Cadence[tier.Key] = cadence.ToString("c", CultureInfo.InvariantCulture);
        }
    }
}
