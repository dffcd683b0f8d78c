using System.Text;

namespace BatchScheduler.Storage;

/// <summary>Text as every store can keep it: PostgreSQL refuses U+0000, and no store round-trips an unpaired surrogate.</summary>
internal static class StorableText
{
    /// <summary><paramref name="value"/> with U+0000 and unpaired surrogates replaced by U+FFFD.</summary>
    public static string Storable(string value)
    {
        if (!NeedsRepair(value))
            return value;
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                builder.Append(value[i]).Append(value[++i]);
            else
                builder.Append(value[i] == '\0' || char.IsSurrogate(value[i]) ? '\uFFFD' : value[i]);
        }
        return builder.ToString();
    }

    private static bool NeedsRepair(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\0')
                return true;
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                i++;
            else if (char.IsSurrogate(value[i]))
                return true;
        }
        return false;
    }
}
