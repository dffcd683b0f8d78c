namespace BatchScheduler.Configuration;

/// <summary>
/// A configuration section BatchScheduler binds to <see cref="OptionsType"/>, recorded where it is bound so
/// <see cref="SettingKeys"/> knows every setting without a list to keep. <see cref="Path"/> may hold
/// <see cref="AnyName"/> for a segment users name (<c>DataTypes:*</c>, <c>DataTypes:*:Http</c>); a null
/// <see cref="OptionsType"/> leaves whatever is under the path to its reader (a custom executor's settings).
/// </summary>
internal sealed record SettingsSection(string Path, Type? OptionsType)
{
    public const string AnyName = "*";

    public string[] Segments { get; } = Path.Split(':');
}
