using System.Globalization;

namespace BatchScheduler.Api;

/// <summary>Reads route and query values whose framework binding would fail without a reason.</summary>
internal static class RequestValues
{
    /// <summary>
    /// ASP.NET decodes every escape in a path segment except <c>%2F</c>, so an entity id such as
    /// <c>BRK/B</c> arrives as <c>BRK%2FB</c>; this restores the slash.
    /// </summary>
    public static string EntityId(string routeValue) =>
        routeValue.Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);

    public static bool TryInt(string? raw, string name, int fallback, int min, int max, out int value, out string? error)
    {
        error = null;
        value = fallback;
        if (raw is null)
            return true;
        if (int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= min && value <= max)
            return true;
        error = $"{name} must be a whole number between {min} and {max} (was '{raw}').";
        return false;
    }

    public static bool TryBool(string? raw, string name, out bool? value, out string? error)
    {
        error = null;
        value = null;
        if (raw is null)
            return true;
        if (bool.TryParse(raw, out var parsed))
        {
            value = parsed;
            return true;
        }
        error = $"{name} must be true or false (was '{raw}').";
        return false;
    }

    private static readonly string[] InstantFormats =
        ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd"];

    /// <summary>An ISO 8601 instant (<c>2026-11-23T18:00:00Z</c>); without an offset it is UTC.</summary>
    public static bool TryInstant(string? raw, string name, out DateTimeOffset? value, out string? error)
    {
        error = null;
        value = null;
        if (raw is null)
            return true;
        if (DateTimeOffset.TryParseExact(raw, InstantFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            value = parsed;
            return true;
        }
        error = $"{name} must be an ISO 8601 instant such as 2026-11-23T18:00:00Z (was '{raw}').";
        return false;
    }
}
