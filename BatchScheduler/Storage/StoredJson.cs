using System.Text;
using System.Text.Json;

namespace BatchScheduler.Storage;

/// <summary>
/// Stored JSON text (a work item's payload) as a value that any JSON writer can write. New text is
/// checked before it is stored (docs/security.md, "Text"); this is for rows written before that or
/// by hand, so that one bad row never breaks a read, a listing or the dashboard.
/// </summary>
internal static class StoredJson
{
    /// <summary>
    /// The stored text parsed, with unpaired surrogates (escaped or not) replaced by U+FFFD; text
    /// that is not JSON at all comes back as a JSON string holding it.
    /// </summary>
    public static JsonElement? Parse(string? stored)
    {
        if (stored is null)
            return null;
        var text = Repair(stored);
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return JsonSerializer.SerializeToElement(text);
        }
    }

    /// <summary><paramref name="json"/> with every unpaired surrogate, raw or written <c>\uD800</c>-<c>\uDFFF</c>, replaced by U+FFFD.</summary>
    public static string Repair(string json)
    {
        StringBuilder? repaired = null;
        var copied = 0;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            int bad; // the length of an unpaired surrogate at i: 1 raw, 6 escaped
            if (char.IsHighSurrogate(c) && i + 1 < json.Length && char.IsLowSurrogate(json[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
                bad = 1;
            else if (c != '\\')
                continue;
            else
            {
                var unit = Escaped(json, i);
                if (unit is < 0xD800 or > 0xDFFF)
                {
                    i += unit < 0 ? 1 : 5; // \" \\ \n and the like, or an escape of any other character
                    continue;
                }
                if (unit <= 0xDBFF && Escaped(json, i + 6) is >= 0xDC00 and <= 0xDFFF)
                {
                    i += 11;
                    continue;
                }
                bad = 6;
            }
            repaired ??= new StringBuilder(json.Length);
            repaired.Append(json, copied, i - copied).Append(bad == 6 ? "\\uFFFD" : "\uFFFD");
            copied = i + bad;
            i += bad - 1;
        }
        return repaired is null ? json : repaired.Append(json, copied, json.Length - copied).ToString();
    }

    /// <summary>The UTF-16 unit of the <c>\uXXXX</c> escape at <paramref name="at"/>, or -1 when there is none.</summary>
    private static int Escaped(string json, int at) =>
        at + 6 <= json.Length && json[at] == '\\' && json[at + 1] == 'u'
        && int.TryParse(json.AsSpan(at + 2, 4), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out var unit)
            ? unit
            : -1;
}
