using System.Runtime.InteropServices;
using System.Text.Json;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Api;

/// <summary>
/// Body of <c>PUT /api/work-items/{dataType}/{entityId}</c>; all optional (the defaults say so in the OpenAPI document).
/// <c>runAt</c>: an ISO 8601 instant with an offset before which the item's next run does not start (absent or past: now).
/// </summary>
internal sealed record PutWorkItemRequest(string? Tier = null, JsonElement? Payload = null, string? RunAt = null);

/// <summary>Body of <c>POST /api/work-items</c>.</summary>
internal sealed record BulkWorkItemsRequest(string? DataType, List<BulkWorkItem?>? Items);

/// <summary>One item of a bulk registration; tier, payload and runAt (as in <see cref="PutWorkItemRequest"/>) optional.</summary>
internal sealed record BulkWorkItem(string? EntityId, string? Tier = null, JsonElement? Payload = null, string? RunAt = null);

/// <summary>Answer to a bulk registration.</summary>
internal sealed record BulkWorkItemsResponse(int Accepted);

/// <summary>
/// A page of work items. By page number: <c>page</c> and <c>total</c> set, <c>next</c> null. By
/// cursor (<c>after</c>, <c>limit</c> or <c>q</c> given): <c>next</c> is the cursor of the following
/// page (null on the last), <c>page</c> and <c>total</c> are null (counting 1,000,000 rows per page is
/// what keyset paging avoids).
/// </summary>
internal sealed record WorkItemPage(IReadOnlyList<WorkItem> Items, int? Page, int PageSize, long? Total, string? Next = null);

/// <summary>The opaque cursor of keyset paging: the last item's data type and entity id.</summary>
internal static class WorkItemCursor
{
    public static string Of(WorkItem item) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{item.DataType}\n{item.EntityId}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The data type and entity id in <paramref name="cursor"/>, or why it is not a cursor this API gave out.</summary>
    public static bool TryRead(string cursor, out string dataType, out string entityId, out string? error)
    {
        dataType = entityId = "";
        error = TextRules.RejectText(cursor, "after", TextRules.MaxCursorLength);
        if (error is not null)
            return false;
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 += new string('=', (4 - (base64.Length % 4)) % 4);
        var bytes = new byte[base64.Length];
        string[] parts = [];
        if (Convert.TryFromBase64String(base64, bytes, out var length) && System.Text.Unicode.Utf8.IsValid(bytes.AsSpan(0, length)))
            parts = System.Text.Encoding.UTF8.GetString(bytes, 0, length).Split('\n', 2);
        if (parts.Length != 2
            || TextRules.RejectText(parts[0], "after", TextRules.MaxDataTypeLength) is not null
            || TextRules.RejectText(parts[1], "after", TextRules.MaxEntityIdLength) is not null)
        {
            error = $"after '{TextRules.Printable(cursor)}' is not a cursor this API gave out; pass the previous answer's next as it is.";
            return false;
        }
        (dataType, entityId) = (parts[0], parts[1]);
        return true;
    }
}

/// <summary>Checks the parts of a registration a user can get wrong, each with a message saying how.</summary>
internal static class WorkItemInput
{
    public const int MaxPayloadChars = 64 * 1024;
    public const int MaxPageSize = 1000;
    public const int MaxPage = 1_000_000;
    public const int DefaultPageSize = 100;

    public static bool TryPage(string? page, string? pageSize, out int pageNumber, out int size, out string? error)
    {
        size = 0;
        return RequestValues.TryInt(page, "page", 1, 1, MaxPage, out pageNumber, out error)
               && RequestValues.TryInt(pageSize, "pageSize", DefaultPageSize, 1, MaxPageSize, out size, out error);
    }

    /// <summary>Resolves the tier (default when absent), reads runAt and serialises the payload, or explains why not.</summary>
    public static (WorkItemRegistration? Item, string? Error) ToRegistration(
        DataTypeDefinition dataType, string entityId, string? tier, JsonElement? payload, string? runAt, string field, DateTimeOffset now)
    {
        var (at, runAtError) = RunAtText.Read(runAt, $"{field}.runAt", now);
        if (runAtError is not null)
            return (null, runAtError);
        var resolved = string.IsNullOrWhiteSpace(tier) ? dataType.DefaultTier : tier;
        if (TextRules.RejectName(resolved, $"{field}.tier", TextRules.MaxTierLength) is { } tierText)
            return (null, tierText);
        if (dataType.RejectTier(resolved) is { } tierError)
            return (null, $"{field}.tier: {tierError}");
        if (payload is not { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null } p)
            return (new WorkItemRegistration(entityId, resolved, null, RunAt: at), null);
        var json = p.GetRawText();
        if (json.Length > MaxPayloadChars)
            return (null, $"{field}.payload is {json.Length} characters of JSON; the limit is {MaxPayloadChars}.");
        if (TextRules.RejectJson(JsonMarshal.GetRawUtf8Value(p), $"{field}.payload") is { } textError)
            return (null, textError);
        return (new WorkItemRegistration(entityId, resolved, json, RunAt: at), null);
    }
}
