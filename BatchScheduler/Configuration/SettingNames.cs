using System.Text.RegularExpressions;

namespace BatchScheduler.Configuration;

/// <summary>Rules shared by names that become Quartz keys (data types, tiers).</summary>
internal static partial class SettingNames
{
    /// <summary>Quartz key columns are 200 characters wide.</summary>
    public const int MaxKeyLength = 200;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex NamePattern();

    public static bool IsValidName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= MaxKeyLength && NamePattern().IsMatch(name);

    public const string NameRule = "letters, digits, '.', '_' or '-', starting with a letter or digit, at most 200 characters";
}
