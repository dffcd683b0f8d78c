using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Api;

/// <summary>
/// The one rule for text that comes in, applied at the edge by the HTTP API and the batch reader
/// (docs/security.md, "Text"). Each check returns null when the value passes, or a sentence that
/// names the field, what is wrong and what is allowed.
/// </summary>
/// <remarks>
/// Three levels: <em>text</em> (anything stored: valid Unicode without U+0000, which PostgreSQL
/// cannot keep and a JSON writer cannot write unpaired); <em>names</em> (tiers, data types) add no
/// control, format or separator characters and no whitespace at either end; <em>entity ids</em>
/// add that a URL must be able to address them.
/// </remarks>
internal static class TextRules
{
    public const int MaxEntityIdLength = 200;
    public const int MaxDataTypeLength = 200;
    public const int MaxTierLength = Tiers.MaxLength;
    public const int MaxQueryLength = MaxEntityIdLength;
    public const int MaxCursorLength = 2048;
    public const int MaxBatchIdLength = 64;

    private const string Reference = "see docs/security.md, Text";

    /// <summary>Any text: at most <paramref name="maxLength"/> UTF-16 code units, valid Unicode, no U+0000. Null passes.</summary>
    public static string? RejectText(string? value, string field, int maxLength)
    {
        if (value is null)
            return null;
        if (value.Length > maxLength)
            return $"{field} is {value.Length} characters long; the limit is {maxLength}.";
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\0')
                return $"{field} contains U+0000 at position {i + 1}; text may not contain U+0000 ({Reference}).";
            if (char.IsSurrogate(value[i]))
            {
                if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                    i++;
                else
                    return $"{field} {Unpaired(value[i], i + 1)}";
            }
        }
        return null;
    }

    /// <summary>
    /// A name (a tier, a data type): text that is not empty, has no control, format or line/paragraph
    /// separator characters and no whitespace at either end. Null passes (an absent optional name).
    /// </summary>
    public static string? RejectName(string? value, string field, int maxLength)
    {
        if (value is null)
            return null;
        if (value.Length == 0)
            return $"{field} is empty.";
        if (RejectText(value, field, maxLength) is { } error)
            return error;
        if (char.IsWhiteSpace(value[0]) || char.IsWhiteSpace(value[^1]))
            return $"{field} begins or ends with whitespace; ids, data types and tiers may not ({Reference}).";
        for (var i = 0; i < value.Length; i++)
        {
            var rune = Rune.GetRuneAt(value, i);
            if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return $"{field} contains {CodePoint(rune.Value)} (a control, format or separator character) at position {i + 1}; "
                    + $"ids, data types and tiers may not ({Reference}).";
            }
            i += rune.Utf16SequenceLength - 1;
        }
        return null;
    }

    /// <summary>An entity id to register: a name of at most 200 characters that every route can address.</summary>
    public static string? RejectEntityId(string? value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
            return $"{field} is missing or empty; every work item needs an entity id.";
        if (value.Length > MaxEntityIdLength)
            return $"{field} is {value.Length} characters long; entity ids may have at most {MaxEntityIdLength}.";
        if (RejectName(value, field, MaxEntityIdLength) is { } error)
            return error;
        if (value is "." or "..")
            return $"{field} '{value}' is a path segment no URL can address (clients and servers remove it); choose another id.";
        if (value.Contains("%2F", StringComparison.OrdinalIgnoreCase))
            return $"{field} contains '%2F', which the routes read as '/'; send the slash itself (written %2F in a URL).";
        return null;
    }

    /// <summary>
    /// Every string and property name in a JSON value (its UTF-8 text as received) is text by
    /// <see cref="RejectText"/>; the error names the first bad one by its path under <paramref name="field"/>,
    /// such as <c>body.payload.items[2].name</c>.
    /// </summary>
    public static string? RejectJson(ReadOnlySpan<byte> json, string field)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 256 });
        var path = new List<(bool IsArray, int Index, string? Name)>();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    path[^1] = (false, 0, null);
                    if (StringProblem(reader.ValueSpan) is { } nameProblem)
                        return $"{PathOf(field, path)} (a field name) {nameProblem}";
                    path[^1] = (false, 0, reader.GetString());
                    break;
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    Next(path);
                    path.Add((reader.TokenType == JsonTokenType.StartArray, -1, null));
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    path.RemoveAt(path.Count - 1);
                    break;
                case JsonTokenType.String:
                    Next(path);
                    if (StringProblem(reader.ValueSpan) is { } valueProblem)
                        return $"{PathOf(field, path)} {valueProblem}";
                    break;
                default:
                    Next(path);
                    break;
            }
        }
        return null;

        static void Next(List<(bool IsArray, int Index, string? Name)> path)
        {
            if (path is [.., { IsArray: true } last])
                path[^1] = last with { Index = last.Index + 1 };
        }
    }

    /// <summary>One JSON string as written (escapes not yet decoded): valid UTF-8, no <c>\u0000</c>, no unpaired <c>\uD800</c>-<c>\uDFFF</c>.</summary>
    public static string? RejectJsonString(ReadOnlySpan<byte> raw, string field) =>
        StringProblem(raw) is { } problem ? $"{field} {problem}" : null;

    /// <summary>What is wrong with a JSON string as written, as the rest of a sentence that starts with the field; null when nothing.</summary>
    private static string? StringProblem(ReadOnlySpan<byte> raw)
    {
        if (!Utf8.IsValid(raw))
            return $"is not valid UTF-8; text must be valid Unicode ({Reference}).";
        for (var i = raw.IndexOf((byte)'\\'); i >= 0 && i < raw.Length - 1; i++)
        {
            if (raw[i] != '\\')
                continue;
            if (raw[i + 1] != 'u')
            {
                i++; // \" \\ \n and the like
                continue;
            }
            var unit = Escaped(raw, i);
            if (unit == 0)
                return $"contains U+0000 (\\u0000); text may not contain U+0000 ({Reference}).";
            if (unit is >= 0xD800 and <= 0xDBFF && Escaped(raw, i + 6) is >= 0xDC00 and <= 0xDFFF)
                i += 11;
            else if (unit is >= 0xD800 and <= 0xDFFF)
                return Unpaired((char)unit, null);
            else
                i += 5;
        }
        return null;
    }

    /// <summary>A value as it may go into a message: <see cref="Storable"/>, cut to 100 characters.</summary>
    public static string Printable(string value) => Storable(value.Length > 100 ? value[..100] + "…" : value);

    /// <summary><paramref name="value"/> with U+0000 and unpaired surrogates replaced by U+FFFD: text any store can keep.</summary>
    public static string Storable(string value) => Storage.StorableText.Storable(value);

    /// <summary>The UTF-16 unit of the <c>\uXXXX</c> escape at <paramref name="at"/>, or -1 when there is none.</summary>
    private static int Escaped(ReadOnlySpan<byte> raw, int at) =>
        at + 6 <= raw.Length && raw[at] == '\\' && raw[at + 1] == 'u'
        && int.TryParse(Encoding.ASCII.GetString(raw.Slice(at + 2, 4)), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var unit)
            ? unit
            : -1;

    private static string PathOf(string field, List<(bool IsArray, int Index, string? Name)> path)
    {
        var builder = new StringBuilder(field);
        foreach (var (isArray, index, name) in path)
        {
            if (isArray)
                builder.Append('[').Append(index.ToString(CultureInfo.InvariantCulture)).Append(']');
            else if (name is not null)
                builder.Append('.').Append(name);
        }
        return builder.ToString();
    }

    private static string Unpaired(char unit, int? position) =>
        $"contains an unpaired surrogate ({CodePoint(unit)}){(position is { } p ? $" at position {p}" : "")}; text must be valid Unicode ({Reference}).";

    private static string CodePoint(int value) => $"U+{value:X4}";
}
