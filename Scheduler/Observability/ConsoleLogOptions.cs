namespace BatchScheduler.Observability;

/// <summary>
/// How the executable writes its log to the console (section <c>Logging:Console</c>): <c>text</c>, one
/// line per event for people, or <c>json</c>, one compact JSON object per event (Serilog's CLEF:
/// <c>@t</c>, <c>@m</c>, <c>@l</c> when not Information, <c>@x</c>, and every property) for a log shipper.
/// </summary>
internal sealed class ConsoleLogOptions
{
    public const string Section = "Logging:Console";

    public const string Text = "text";
    public const string Json = "json";

    /// <summary><c>text</c> (the default) or <c>json</c>.</summary>
    public string Format { get; set; } = Text;
}
