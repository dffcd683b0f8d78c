using System.Text.Json;
using BatchScheduler.Storage;

namespace BatchScheduler.Tests.Storage;

/// <summary>Stored payload text is always answered as JSON a writer can write, changed only where it was broken.</summary>
public sealed class StoredJsonTests
{
    [Theory]
    [InlineData("""{"s":"\udfff"}""", """{"s":"\uFFFD"}""")]
    [InlineData("""{"s":"a\ud800b"}""", """{"s":"a\uFFFDb"}""")]
    [InlineData("""["\ud800\ud800\udc00"]""", """["\uFFFD\ud800\udc00"]""")]
    // Unchanged: a pair, escaped or raw; an escaped backslash before "u"; other escapes.
    [InlineData("""{"s":"\ud83d\ude00"}""", """{"s":"\ud83d\ude00"}""")]
    [InlineData("{\"s\":\"\U0001F600\"}", "{\"s\":\"\U0001F600\"}")]
    [InlineData("""{"s":"\\udfff"}""", """{"s":"\\udfff"}""")]
    [InlineData("""{"s":"\"\n\u0041\\"}""", """{"s":"\"\n\u0041\\"}""")]
    public void Repair_UnpairedSurrogates_BecomeReplacementCharacters_AndNothingElseChanges(string stored, string expected) =>
        Assert.Equal(expected, StoredJson.Repair(stored));

    [Fact]
    public void Repair_RawUnpairedSurrogate_BecomesAReplacementCharacter() =>
        // Built in code: a lone surrogate does not survive as attribute data.
        Assert.Equal("{\"s\":\"a\uFFFDb\"}", StoredJson.Repair("{\"s\":\"a" + (char)0xDFFF + "b\"}"));

    [Theory]
    [InlineData("""{"s":"\udfff","n":[1,"\ud800"]}""")]
    [InlineData("not json")]
    [InlineData("{\"truncated\":")]
    public void Parse_BrokenStoredText_GivesAValueThatSerializes(string stored)
    {
        var value = StoredJson.Parse(stored);

        var written = JsonSerializer.Serialize(value);
        using var reparsed = JsonDocument.Parse(written);
        Assert.NotEqual(JsonValueKind.Undefined, reparsed.RootElement.ValueKind);
    }
}
