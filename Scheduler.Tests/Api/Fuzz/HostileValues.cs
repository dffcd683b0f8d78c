using System.Text;

namespace BatchScheduler.Tests.Api.Fuzz;

/// <summary>A hostile input and the class it stands for (what a failure report names).</summary>
public sealed record Hostile(string Class, byte[] Bytes)
{
    public override string ToString() => Class;
}

/// <summary>
/// The hostile values the fuzz test sends: text that is not valid Unicode or holds control
/// characters, look-alikes, path tricks, huge and deeply nested values, and random mixes of those
/// from a seed. Text is kept as .NET strings (which can hold lone surrogates) and turned into the
/// bytes a hostile client would send: percent-encoded WTF-8 in URLs, JSON escapes or raw bytes in bodies.
/// </summary>
public static class HostileValues
{
    /// <summary>Strings for path and query parameters, JSON string fields and batch records.</summary>
    public static readonly (string Class, string Text)[] Strings =
    [
        ("empty", ""),
        ("space", " "),
        ("leading and trailing spaces", " a "),
        ("NUL", "\0"),
        ("NUL inside", "a\0b"),
        ("C0 controls and ANSI escape", "a\u0001\u001b[31mb"),
        ("CR LF", "a\r\nb"),
        ("DEL and C1 controls", "a\u007f\u0085\u009fb"),
        ("U+2028 line separator", "a\u2028b"),
        ("U+FEFF byte order mark", "\uFEFFa"),
        ("U+FFFE noncharacter", "a\uFFFEb"),
        ("lone high surrogate", "a\ud800"),
        ("lone low surrogate", "\udfffb"),
        ("reversed surrogate pair", "\udc00\ud800"),
        ("bidi override", "\u202Eabc"),
        ("zero-width space", "a\u200Bb"),
        ("combining mark", "e\u0301"),
        ("emoji", "\U0001F600"),
        ("dot", "."),
        ("dot dot", ".."),
        ("slash", "a/b"),
        ("backslash", "a\\b"),
        ("traversal", "../../etc/passwd"),
        ("literal %2F", "a%2Fb"),
        ("literal %00", "%00"),
        ("bare percent", "%"),
        ("quotes", "\"'`"),
        ("markup", "<script>alert(1)</script>"),
        ("SQL", "' OR '1'='1' --"),
        ("format string", "{0}%s%n"),
        ("negative number", "-1"),
        ("huge number", "99999999999999999999999999"),
        ("NaN", "NaN"),
        ("json-looking", "{\"a\":1}"),
        ("300 characters", new string('a', 300)),
        ("100k characters", new string('a', 100_000)),
        ("100k astral characters", string.Concat(Enumerable.Repeat("\U0001F600", 50_000))),
        ("cursor holding NUL", Base64Url(Encoding.UTF8.GetBytes("t\na\0b"))),
        ("cursor holding invalid UTF-8", Base64Url([0x74, 0x0A, 0xFF, 0xFE])),
        ("cursor holding a lone surrogate", Base64Url(Wtf8("t\n\udfff"))),
        ("cursor without separator", Base64Url(Encoding.UTF8.GetBytes("t"))),
    ];

    /// <summary>Already percent-encoded URL pieces: bytes that are not UTF-8, encoded separators and dots.</summary>
    public static readonly (string Class, string Raw)[] UrlEncoded =
    [
        ("%FF (invalid UTF-8)", "a%FFb"),
        ("%C0%AF (overlong slash)", "%C0%AF"),
        ("%ED%A0%80 (encoded surrogate)", "%ED%A0%80"),
        ("%2F (encoded slash)", "a%2Fb"),
        ("%2E%2E (encoded dot dot)", "%2E%2E"),
        ("%00 (encoded NUL)", "a%00b"),
        ("%252F (double-encoded slash)", "a%252Fb"),
        ("%5C (encoded backslash)", "%5C..%5C"),
        ("%zz (bad escape)", "%zz"),
    ];

    /// <summary>Characters random strings are made of: one of each hostile kind, and some plain ones.</summary>
    private static readonly string[] Alphabet =
        ["a", "Z", "0", "-", "_", ".", "/", "\\", "%", " ", "\t", "\n", "\0", "\u0001", "\u007f", "\u0085", "\u2028", "\uFEFF",
         "\ud800", "\udfff", "\U0001F600", "\u00e9", "\"", "'", "<", "&", "?", "#", "+", "~"];

    /// <summary><paramref name="count"/> random strings of hostile characters, the same for the same seed.</summary>
    public static IEnumerable<(string Class, string Text)> Random(Random random, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var text = new StringBuilder();
            var length = random.Next(1, 40);
            for (var c = 0; c < length; c++)
                text.Append(Alphabet[random.Next(Alphabet.Length)]);
            yield return ($"random #{i}", text.ToString());
        }
    }

    /// <summary>JSON values for body fields: each string above as a JSON string, invalid JSON text, and huge or deep values.</summary>
    public static IEnumerable<Hostile> Json(IEnumerable<(string Class, string Text)> strings)
    {
        foreach (var (name, text) in strings)
            yield return new Hostile($"string: {name}", JsonString(text));
        yield return new Hostile("raw control character in a string", [(byte)'"', (byte)'a', 0x01, (byte)'"']);
        yield return new Hostile("raw NUL in a string", [(byte)'"', (byte)'a', 0x00, (byte)'"']);
        yield return new Hostile("invalid UTF-8 in a string", [(byte)'"', 0xFF, 0xFE, (byte)'"']);
        yield return new Hostile("overlong UTF-8 in a string", [(byte)'"', 0xC0, 0xAF, (byte)'"']);
        yield return new Hostile("UTF-8-encoded surrogate in a string", [(byte)'"', 0xED, 0xA0, 0x80, (byte)'"']);
        foreach (var (name, json) in Values)
            yield return new Hostile(name, Encoding.UTF8.GetBytes(json));
    }

    private static readonly (string Class, string Json)[] Values =
    [
        ("null", "null"),
        ("true", "true"),
        ("zero", "0"),
        ("negative", "-1"),
        ("fraction", "0.5"),
        ("huge exponent", "1e400"),
        ("300-digit integer", "1" + new string('0', 300)),
        ("empty array", "[]"),
        ("empty object", "{}"),
        ("nested object", """{"a":{"b":[1,"x",null]}}"""),
        ("duplicate keys", """{"a":1,"a":2}"""),
        ("NUL-escaped key", """{"\u0000":1}"""),
        ("lone-surrogate-escaped key", """{"\ud800":1}"""),
        ("array 200 deep", new string('[', 200) + new string(']', 200)),
        ("object 200 deep", string.Concat(Enumerable.Repeat("{\"a\":", 200)) + "1" + new string('}', 200)),
        ("array 100k deep", new string('[', 100_000) + new string(']', 100_000)),
        ("array of 200k elements", "[" + string.Join(",", Enumerable.Repeat("0", 200_000)) + "]"),
        ("object of 20k keys", "{" + string.Join(",", Enumerable.Range(0, 20_000).Select(i => $"\"k{i}\":{i}")) + "}"),
    ];

    /// <summary>A JSON string literal: control characters and every surrogate (paired or not) as \u escapes, the rest as UTF-8.</summary>
    public static byte[] JsonString(string text)
    {
        var json = new StringBuilder("\"");
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '"' || c == '\\')
                json.Append('\\').Append(c);
            else if (c < 0x20 || char.IsSurrogate(c))
                json.Append($"\\u{(int)c:x4}");
            else
                json.Append(c);
        }
        return Encoding.UTF8.GetBytes(json.Append('"').ToString());
    }

    /// <summary>UTF-8, except that a lone surrogate becomes its 3-byte form (WTF-8): what a careless client sends.</summary>
    public static byte[] Wtf8(string text)
    {
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            int codePoint = text[i];
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                codePoint = char.ConvertToUtf32(text[i], text[++i]);
            if (codePoint < 0x80)
            {
                bytes.Add((byte)codePoint);
            }
            else if (codePoint < 0x800)
            {
                bytes.Add((byte)(0xC0 | (codePoint >> 6)));
                bytes.Add((byte)(0x80 | (codePoint & 0x3F)));
            }
            else if (codePoint < 0x10000)
            {
                bytes.Add((byte)(0xE0 | (codePoint >> 12)));
                bytes.Add((byte)(0x80 | ((codePoint >> 6) & 0x3F)));
                bytes.Add((byte)(0x80 | (codePoint & 0x3F)));
            }
            else
            {
                bytes.Add((byte)(0xF0 | (codePoint >> 18)));
                bytes.Add((byte)(0x80 | ((codePoint >> 12) & 0x3F)));
                bytes.Add((byte)(0x80 | ((codePoint >> 6) & 0x3F)));
                bytes.Add((byte)(0x80 | (codePoint & 0x3F)));
            }
        }
        return [.. bytes];
    }

    /// <summary>Percent-encodes every byte of <see cref="Wtf8"/> that is not unreserved in a URL.</summary>
    public static string UrlEncode(string text)
    {
        var encoded = new StringBuilder();
        foreach (var b in Wtf8(text))
        {
            if (b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9' or (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
                encoded.Append((char)b);
            else
                encoded.Append($"%{b:X2}");
        }
        return encoded.ToString();
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>A stable hash (string.GetHashCode differs per process), to derive one seed per target from the run's seed.</summary>
    public static int StableHash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
            hash = (hash ^ c) * 16777619u;
        return (int)hash;
    }
}
