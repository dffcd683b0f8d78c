using System.Text.Json;
using Quartz.Serialization.SystemTextJson.Calendars;

namespace BatchScheduler.Time;

/// <summary>
/// How <see cref="QuietHoursCalendar"/> is written into <c>qrtz_calendars</c>: readable windows
/// (<c>{"Windows":[{"From":"22:00","To":"07:00","Days":["Mon",…]}]}</c>) beside Quartz's own type, description and time zone.
/// </summary>
internal sealed class QuietHoursCalendarSerializer : CalendarSerializer<QuietHoursCalendar>
{
    public override string CalendarTypeName => "BatchScheduler.QuietHoursCalendar";

    protected override QuietHoursCalendar Create(JsonElement jsonElement, JsonSerializerOptions options)
    {
        var zone = jsonElement.TryGetProperty(options.PropertyNamingPolicy?.ConvertName("TimeZoneId") ?? "TimeZoneId", out var z) && z.GetString() is { } id
            ? TimeZoneInfo.FindSystemTimeZoneById(id)
            : TimeZoneInfo.Utc;
        var windows = new List<QuietWindow>();
        foreach (var w in jsonElement.GetProperty(Name(options, "Windows")).EnumerateArray())
        {
            windows.Add(new QuietWindow(
                QuietWindow.ParseTime(w.GetProperty(Name(options, "From")).GetString())!.Value,
                QuietWindow.ParseTime(w.GetProperty(Name(options, "To")).GetString())!.Value,
                w.GetProperty(Name(options, "Days")).EnumerateArray().Select(d => QuietWindow.ParseDay(d.GetString()!)!.Value).ToList()));
        }
        return new QuietHoursCalendar(zone, windows);
    }

    protected override void SerializeFields(Utf8JsonWriter writer, QuietHoursCalendar calendar, JsonSerializerOptions options)
    {
        writer.WriteStartArray(Name(options, "Windows"));
        foreach (var window in calendar.Windows)
        {
            writer.WriteStartObject();
            writer.WriteString(Name(options, "From"), window.From.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString(Name(options, "To"), window.To.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteStartArray(Name(options, "Days"));
            foreach (var day in window.Days)
                writer.WriteStringValue(QuietWindow.DayName(day));
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    protected override void DeserializeFields(QuietHoursCalendar calendar, JsonElement jsonElement, JsonSerializerOptions options)
    {
        // Everything is read by Create.
    }

    private static string Name(JsonSerializerOptions options, string name) => options.PropertyNamingPolicy?.ConvertName(name) ?? name;
}
