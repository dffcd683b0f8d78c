using BatchScheduler.Outbound;
using BatchScheduler.Storage;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Configuration;

/// <summary>Validates <see cref="ClusterOptions"/>.</summary>
internal sealed class ClusterOptionsValidator : IValidateOptions<ClusterOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterOptions o)
    {
        var errors = new List<string>();
        var s = ClusterOptions.Section;
        if (string.IsNullOrWhiteSpace(o.NodeId) || o.NodeId.Length > SettingNames.MaxKeyLength)
            errors.Add($"{s}:NodeId must be 'auto' or a unique name of at most 200 characters (was '{o.NodeId}').");
        if (o.Role is not (NodeRoles.Worker or NodeRoles.Api))
            errors.Add($"{s}:Role must be '{NodeRoles.Worker}' or '{NodeRoles.Api}' (was '{o.Role}').");
        if (o.MaxConcurrency is < 1 or > 1000)
            errors.Add($"{s}:MaxConcurrency must be between 1 and 1000 (was {o.MaxConcurrency}).");
        if (o.CheckinInterval < TimeSpan.FromSeconds(1) || o.CheckinInterval > TimeSpan.FromMinutes(5))
            errors.Add($"{s}:CheckinInterval must be between 00:00:01 and 00:05:00 (was {o.CheckinInterval}).");
        if (o.ShutdownGracePeriod < TimeSpan.Zero || o.ShutdownGracePeriod > TimeSpan.FromHours(1))
            errors.Add($"{s}:ShutdownGracePeriod must be between 00:00:00 and 01:00:00 (was {o.ShutdownGracePeriod}).");
        if (o.IdleWaitTime < TimeSpan.FromSeconds(1) || o.IdleWaitTime > TimeSpan.FromMinutes(5))
            errors.Add($"{s}:IdleWaitTime must be between 00:00:01 and 00:05:00 (was {o.IdleWaitTime}); Quartz refuses less than a second.");
        if (o.RepairInterval < TimeSpan.FromSeconds(1) || o.RepairInterval > TimeSpan.FromHours(1))
            errors.Add($"{s}:RepairInterval must be between 00:00:01 and 01:00:00 (was {o.RepairInterval}).");
        if (!SettingNames.IsValidName(o.SchedulerName))
            errors.Add($"{s}:SchedulerName '{o.SchedulerName}' is not allowed; use {SettingNames.NameRule}.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="StorageOptions"/>.</summary>
internal sealed class StorageOptionsValidator(StoreDriver driver) : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions o)
    {
        var s = StorageOptions.Section;
        if (!Enum.IsDefined(o.Provider))
            return ValidateOptionsResult.Fail($"{s}:Provider must be Sqlite, Postgres or SqlServer (was '{o.Provider}').");
        if (string.IsNullOrWhiteSpace(o.ConnectionString))
            return ValidateOptionsResult.Fail($"{s}:ConnectionString is empty; give an ADO.NET connection string for {o.Provider}.");
        if (o.Provider != driver.Provider)
            return ValidateOptionsResult.Fail($"{s}:Provider is {o.Provider}, but this node was built with the {driver.Provider} store; "
                + $"set {s}:Provider to {driver.Provider} or register the {o.Provider} store (Use{o.Provider}).");
        try
        {
            _ = driver.ParseConnectionString(o.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail($"{s}:ConnectionString is not a valid {o.Provider} connection string: {ex.Message}");
        }
        return ValidateOptionsResult.Success;
    }
}

/// <summary>Validates <see cref="AdminOptions"/>.</summary>
internal sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions o)
    {
        var errors = new List<string>();
        for (var i = 0; i < o.ApiKeys.Count; i++)
        {
            var k = o.ApiKeys[i];
            var key = $"{AdminOptions.Section}:ApiKeys:{i}";
            if (string.IsNullOrWhiteSpace(k.Key) || k.Key.Length < 8)
                errors.Add($"{key}:Key must be at least 8 characters; generate one with e.g. 'openssl rand -hex 24'.");
            if (k.Role is not (AdminRoles.Viewer or AdminRoles.Admin))
                errors.Add($"{key}:Role must be '{AdminRoles.Viewer}' or '{AdminRoles.Admin}' (was '{k.Role}').");
            if (Admin.ApiKeyNames.Problem(k.Name) is { } nameProblem)
                errors.Add($"{key}:Name {nameProblem}");
        }
        var duplicates = o.ApiKeys.GroupBy(k => k.Key, StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        if (duplicates.Count > 0)
            errors.Add($"{AdminOptions.Section}:ApiKeys: each key may appear once; {duplicates.Count} key(s) appear more than once.");
        foreach (var sameName in o.ApiKeys.Select((k, i) => (Name: Admin.ApiKeyNames.Of(k, i), Index: i))
            .GroupBy(n => n.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
        {
            errors.Add($"{AdminOptions.Section}:ApiKeys: the keys {string.Join(", ", sameName.Select(n => n.Index))} are all named '{sameName.Key}'; "
                + "give each key a Name of its own, so the audit trail tells them apart.");
        }
        for (var i = 0; i < o.AllowedHosts.Count; i++)
        {
            if (Admin.LoopbackHosts.SettingProblem(o.AllowedHosts[i]) is { } problem)
                errors.Add($"{AdminOptions.Section}:AllowedHosts:{i} '{o.AllowedHosts[i]}' {problem}");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="DemoOptions"/>.</summary>
internal sealed class DemoOptionsValidator : IValidateOptions<DemoOptions>
{
    public ValidateOptionsResult Validate(string? name, DemoOptions o) =>
        o.ItemsPerDataType is < 0 or > 10_000
            ? ValidateOptionsResult.Fail($"{DemoOptions.Section}:ItemsPerDataType must be between 0 and 10000 (was {o.ItemsPerDataType}).")
            : ValidateOptionsResult.Success;
}

/// <summary>Refuses vendors whose budget cannot work, naming the setting.</summary>
internal sealed class VendorsOptionsValidator : IValidateOptions<VendorsOptions>
{
    public ValidateOptionsResult Validate(string? name, VendorsOptions options)
    {
        var errors = new List<string>();
        foreach (var (vendor, v) in options.Items)
        {
            var key = $"{VendorOptions.Section}:{vendor}";
            if (!SettingNames.IsValidName(vendor))
                errors.Add($"{key}: the vendor name '{vendor}' is not allowed; use {SettingNames.NameRule}.");
            if (v.Credits <= 0)
                errors.Add($"{key}:Credits must be a positive number of credits per window (was {v.Credits}).");
            if (v.Window < TimeSpan.FromSeconds(1) || v.Window.Ticks % TimeSpan.TicksPerMillisecond != 0)
                errors.Add($"{key}:Window must be at least 00:00:01, in whole milliseconds (was {v.Window}).");
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="BatchOptions"/>.</summary>
internal sealed class BatchOptionsValidator : IValidateOptions<BatchOptions>
{
    public ValidateOptionsResult Validate(string? name, BatchOptions o)
    {
        var errors = new List<string>();
        var s = BatchOptions.Section;
        if (o.Retention < TimeSpan.FromSeconds(1))
            errors.Add($"{s}:Retention must be at least 00:00:01 (was {o.Retention}).");
        if (o.MaxRecordBytes is < 1024 or > 64 * 1_048_576)
            errors.Add($"{s}:MaxRecordBytes must be between 1024 and 67108864 (was {o.MaxRecordBytes}).");
        if (o.MonitorInterval < TimeSpan.FromMilliseconds(100) || o.MonitorInterval > TimeSpan.FromMinutes(5))
            errors.Add($"{s}:MonitorInterval must be between 00:00:00.1 and 00:05:00 (was {o.MonitorInterval}).");
        if (o.CallbackTimeout < TimeSpan.FromSeconds(1) || o.CallbackTimeout > TimeSpan.FromMinutes(5))
            errors.Add($"{s}:CallbackTimeout must be between 00:00:01 and 00:05:00 (was {o.CallbackTimeout}).");
        if (o.CallbackMaxDelay < TimeSpan.FromSeconds(1) || o.CallbackMaxDelay > TimeSpan.FromDays(1))
            errors.Add($"{s}:CallbackMaxDelay must be between 00:00:01 and 1.00:00:00 (was {o.CallbackMaxDelay}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="AlertOptions"/>.</summary>
internal sealed class AlertOptionsValidator(IOptions<OutboundOptions> outbound) : IValidateOptions<AlertOptions>
{
    public ValidateOptionsResult Validate(string? name, AlertOptions o)
    {
        var errors = new List<string>();
        var s = AlertOptions.Section;
        if (o.Enabled && (!Uri.TryCreate(o.WebhookUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
            errors.Add($"{s}:WebhookUrl must be an absolute http:// or https:// address, or unset to turn alerting off (was '{o.WebhookUrl}').");
        else if (o.Enabled && new OutboundPolicy(outbound).Refusal(o.WebhookUrl!) is { } refusal)
            errors.Add($"{s}:WebhookUrl '{o.WebhookUrl}' is refused by the outbound policy: {refusal}; point it at another host or change the {OutboundOptions.Section} settings.");
        if (double.IsNaN(o.FailureRateThreshold) || o.FailureRateThreshold is <= 0 or > 1)
            errors.Add($"{s}:FailureRateThreshold must be greater than 0 and at most 1, e.g. 0.5 for half the executions (was {o.FailureRateThreshold.ToString(System.Globalization.CultureInfo.InvariantCulture)}).");
        if (o.FailureRateWindow < TimeSpan.FromMinutes(1) || o.FailureRateWindow > TimeSpan.FromHours(24))
            errors.Add($"{s}:FailureRateWindow must be between 00:01:00 and 1.00:00:00 (was {o.FailureRateWindow}).");
        if (o.FailureRateMinExecutions < 1)
            errors.Add($"{s}:FailureRateMinExecutions must be at least 1 (was {o.FailureRateMinExecutions}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="OutboundOptions"/>.</summary>
internal sealed class OutboundOptionsValidator : IValidateOptions<OutboundOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboundOptions o)
    {
        var errors = new List<string>();
        for (var i = 0; i < o.AllowedHosts.Length; i++)
        {
            if (!OutboundPolicy.IsValidEntry(o.AllowedHosts[i]))
            {
                errors.Add($"{OutboundOptions.Section}:AllowedHosts:{i} '{o.AllowedHosts[i]}' is not a host: give a host name (hooks.example.com), "
                    + "every subdomain of one (*.example.com) or an IP address.");
            }
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="RequestLimitsOptions"/>.</summary>
internal sealed class RequestLimitsOptionsValidator : IValidateOptions<RequestLimitsOptions>
{
    public ValidateOptionsResult Validate(string? name, RequestLimitsOptions o)
    {
        var errors = new List<string>();
        var s = RequestLimitsOptions.Section;
        // A PUT carries a payload of up to 65,536 characters, each up to 3 bytes of UTF-8 (4 for two characters).
        if (o.MaxBodyBytes is < 200 * 1024 or > 64 * 1_048_576)
            errors.Add($"{s}:MaxBodyBytes must be between 204800 (room for a 65,536-character payload) and 67108864 (was {o.MaxBodyBytes}).");
        if (o.MaxBulkBodyBytes < o.MaxBodyBytes || o.MaxBulkBodyBytes > 256 * 1_048_576)
            errors.Add($"{s}:MaxBulkBodyBytes must be between {s}:MaxBodyBytes ({o.MaxBodyBytes}) and 268435456 (was {o.MaxBulkBodyBytes}).");
        if (o.MaxBulkItems is < 1 or > 100_000)
            errors.Add($"{s}:MaxBulkItems must be between 1 and 100000 (was {o.MaxBulkItems}).");
        if (o.MaxJsonValues < 1000 || o.MaxJsonValues > 10_000_000)
            errors.Add($"{s}:MaxJsonValues must be between 1000 and 10000000 (was {o.MaxJsonValues}).");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
