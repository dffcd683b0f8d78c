using BatchScheduler.Executors.Contract;
using Microsoft.Extensions.Options;

namespace BatchScheduler.Configuration;

/// <summary>Stands for the configuration's keys as a whole, so that unknown ones stop the node on start beside the sections' own errors.</summary>
internal sealed class SettingKeysOptions;

/// <summary>Where BatchScheduler's settings are: the executable's root configuration, or the section an app passed to <c>AddBatchScheduler</c>.</summary>
internal sealed record SettingsRoot(IConfiguration Configuration);

/// <summary>
/// Refuses keys under BatchScheduler's sections that nothing binds (see <see cref="SettingKeys"/>). A data
/// type's sub-section named after a registered executor (<c>DataTypes:&lt;name&gt;:&lt;executor&gt;</c>) is that
/// executor's to read; the built-ins' are checked against their options.
/// </summary>
internal sealed class SettingKeysValidator(
    SettingsRoot root, IEnumerable<SettingsSection> sections, IEnumerable<ExecutorRegistration> executors) : IValidateOptions<SettingKeysOptions>
{
    public ValidateOptionsResult Validate(string? name, SettingKeysOptions options)
    {
        var bound = sections.ToList();
        var paths = bound.Select(s => s.Path).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var executorSections = executors
            .Select(e => new SettingsSection($"{DataTypeOptions.Section}:{SettingsSection.AnyName}:{e.Name}", null))
            .Where(s => !paths.Contains(s.Path));
        var problems = SettingKeys.FindUnknown(root.Configuration, [.. bound, .. executorSections]);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
