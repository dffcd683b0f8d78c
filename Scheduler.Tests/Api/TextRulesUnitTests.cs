using System.Text;
using BatchScheduler.Api;

namespace BatchScheduler.Tests.Api;

/// <summary>The text rule's checks on their own: what passes, and that an error names the field by its path.</summary>
public sealed class TextRulesUnitTests
{
    [Theory]
    [InlineData("""{"a":{"b":[0,{"c":"\udfff"}]}}""", "payload.a.b[1].c")]
    [InlineData("""[[1],[2,"\u0000"]]""", "payload[1][1]")]
    [InlineData("""{"ok":"x","\ud800":1}""", "payload (a field name)")]
    [InlineData("""{"x":[1,2],"y":"\ud800 \udc00"}""", "payload.y")]
    public void RejectJson_BadString_NamesItsPath(string json, string path)
    {
        var error = TextRules.RejectJson(Encoding.UTF8.GetBytes(json), "payload");

        Assert.NotNull(error);
        Assert.StartsWith($"{path} contains", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"s":"\\udfff","t":"\ud83d\ude00","u":"\t\n\"\\"}""")]
    [InlineData("{\"名前\":\"Zürich \U0001F600\"}")]
    [InlineData("""[1,true,null,{"a":[]}]""")]
    public void RejectJson_ValidText_Passes(string json) =>
        Assert.Null(TextRules.RejectJson(Encoding.UTF8.GetBytes(json), "payload"));

    [Theory]
    [InlineData("a\u0000b", 0, "U+0000 at position 2")]
    [InlineData("a_b", 0xDFFF, "unpaired surrogate (U+DFFF) at position 2")]
    [InlineData("_", 0xD800, "unpaired surrogate (U+D800) at position 1")]
    public void RejectText_UnstorableText_SaysWhatAndWhere(string value, int unit, string expected) =>
        // '_' stands for the unit, built in code: a lone surrogate does not survive as attribute data.
        Assert.Contains(expected, TextRules.RejectText(unit == 0 ? value : value.Replace('_', (char)unit), "q", 200), StringComparison.Ordinal);

    [Fact]
    public void Storable_ReplacesWhatCannotBeStored_AndKeepsPairs() =>
        Assert.Equal("a\uFFFDb\uFFFD\U0001F600", TextRules.Storable("a\u0000b" + (char)0xDFFF + "\U0001F600"));
}
