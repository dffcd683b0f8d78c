using Microsoft.AspNetCore.Http;

namespace BatchScheduler.Audit;

/// <summary>
/// What a changing request adds to its audit record beyond who sent it and to which route: how many
/// items it changed, what it targeted (a filter, for a bulk action) and a detail line. A handler calls
/// <see cref="Record"/>; the audit recorder reads the notes once the request has been answered.
/// </summary>
internal static class AuditNotes
{
    private static readonly object Key = new();

    /// <summary>Notes what the request changed; a later call replaces an earlier one.</summary>
    public static void Record(HttpContext http, long? count = null, string? target = null, string? detail = null) =>
        http.Items[Key] = new AuditNote(count, target, detail);

    /// <summary>What the handler noted, or null when it noted nothing.</summary>
    public static AuditNote? Read(HttpContext http) => http.Items.TryGetValue(Key, out var note) ? note as AuditNote : null;
}

/// <summary>A handler's notes on a changing request (<see cref="AuditNotes"/>).</summary>
internal sealed record AuditNote(long? Count, string? Target, string? Detail);
