using Microsoft.Extensions.Options;

namespace BatchScheduler.Configuration;

/// <summary>How bulk actions (<c>POST /api/work-items/actions</c>) pace themselves (section <c>BulkActions</c>).</summary>
internal sealed class BulkActionOptions
{
    public const string Section = "BulkActions";

    /// <summary>Items read and moved per chunk (in (data type, entity id) order); progress is written after each.</summary>
    public int ChunkSize { get; set; } = 200;

    /// <summary>The pause after each chunk, so a running drain keeps the database to itself most of the time.</summary>
    public TimeSpan ChunkPause { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How long the POST waits for the action to end: 200 with the final counts when it did, else 202 with the progress so far.</summary>
    public TimeSpan RequestWait { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Validates <see cref="BulkActionOptions"/>, and that no data type is named <c>actions</c> (the bulk actions' route).</summary>
internal sealed class BulkActionOptionsValidator(IConfiguration configuration) : IValidateOptions<BulkActionOptions>
{
    /// <summary>The data type name <c>/api/work-items/actions/{id}</c> would shadow.</summary>
    public const string ReservedDataType = "actions";

    public ValidateOptionsResult Validate(string? name, BulkActionOptions o)
    {
        var errors = new List<string>();
        var s = BulkActionOptions.Section;
        if (o.ChunkSize is < 1 or > 5000)
            errors.Add($"{s}:ChunkSize must be between 1 and 5000 (was {o.ChunkSize}).");
        if (o.ChunkPause < TimeSpan.Zero || o.ChunkPause > TimeSpan.FromMinutes(1))
            errors.Add($"{s}:ChunkPause must be between 00:00:00 and 00:01:00 (was {o.ChunkPause}).");
        if (o.RequestWait < TimeSpan.Zero || o.RequestWait > TimeSpan.FromSeconds(60))
            errors.Add($"{s}:RequestWait must be between 00:00:00 and 00:01:00, under clients' and proxies' request timeouts (was {o.RequestWait}).");
        // Read from the configuration, not DataTypesOptions: resolving those here would report their own errors twice.
        if (configuration.GetSection(DataTypeOptions.Section).GetChildren().Any(c => c.Key == ReservedDataType))
            errors.Add($"{DataTypeOptions.Section}:{ReservedDataType}: the data type name '{ReservedDataType}' is reserved (/api/work-items/actions is the bulk actions' route); rename the data type.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
