using BatchScheduler.BulkActions;
using BatchScheduler.WorkItems;

namespace BatchScheduler.Api;

/// <summary>Checks a bulk action's request, each refusal naming the field and what it may be.</summary>
internal static class BulkActionInput
{
    private static readonly string Actions = string.Join(", ", Enum.GetValues<BulkActionKind>().Select(BulkActionRunner.Name));

    public static (BulkActionSpec? Spec, string? Error) Read(BulkActionRequest body, DataTypeCatalog catalog)
    {
        if (string.IsNullOrWhiteSpace(body.Action))
            return (null, $"action is missing; it is one of: {Actions}.");
        var action = Enum.GetValues<BulkActionKind>().Select(a => (BulkActionKind?)a).FirstOrDefault(a => BulkActionRunner.Name(a!.Value) == body.Action);
        if (action is not { } kind)
            return (null, $"Unknown action '{TextRules.Printable(body.Action)}'; actions are: {Actions}.");
        if (body.Filter is null)
            return (null, NoFilter("filter."));
        var (filter, filterError) = ReadFilter(body.Filter, "filter.", catalog);
        if (filter is null)
            return (null, filterError);
        if (kind == BulkActionKind.Tier)
        {
            if (string.IsNullOrWhiteSpace(body.Tier))
                return (null, "tier is missing; action tier needs the new tier.");
            if (filter.DataType is null || !catalog.TryGet(filter.DataType, out var dataType))
                return (null, "filter.dataType is missing; action tier needs it (tiers belong to a data type).");
            if ((TextRules.RejectName(body.Tier, "tier", TextRules.MaxTierLength) ?? (dataType.RejectTier(body.Tier) is { } t ? $"tier: {t}" : null)) is { } tierError)
                return (null, tierError);
        }
        else if (body.Tier is not null)
        {
            return (null, $"tier goes only with action tier (this is action {body.Action}); to filter by tier use filter.tier.");
        }
        if (kind is BulkActionKind.Pause or BulkActionKind.Cancel && string.IsNullOrWhiteSpace(body.Reason))
            return (null, $"reason is missing; action {body.Action} needs it: say why (it is recorded with each item, e.g. \"vendor outage\").");
        if (TextRules.RejectText(body.Reason, "reason", PauseRequest.MaxReasonLength) is { } reasonError)
            return (null, reasonError);
        return (new BulkActionSpec(kind, filter, body.Tier, string.IsNullOrWhiteSpace(body.Reason) ? null : body.Reason.Trim()), null);
    }

    /// <summary>The filter checked field by field (<paramref name="prefix"/>: how its fields are named in the request).</summary>
    public static (BulkActionFilter? Filter, string? Error) ReadFilter(BulkActionFilter f, string prefix, DataTypeCatalog catalog)
    {
        if (f.IsEmpty)
            return (null, NoFilter(prefix));
        if ((TextRules.RejectText(f.DataType, $"{prefix}dataType", TextRules.MaxDataTypeLength)
            ?? TextRules.RejectText(f.State, $"{prefix}state", 20)
            ?? TextRules.RejectText(f.Tier, $"{prefix}tier", TextRules.MaxTierLength)
            ?? TextRules.RejectText(f.EntityPrefix, $"{prefix}entityPrefix", TextRules.MaxEntityIdLength)
            ?? TextRules.RejectText(f.ErrorContains, $"{prefix}errorContains", TextRules.MaxQueryLength)) is { } textError)
        {
            return (null, textError);
        }
        DataTypeDefinition? dataType = null;
        if (f.DataType is not null && !catalog.TryGet(f.DataType, out dataType))
            return (null, $"{prefix}dataType: {catalog.Unknown(f.DataType)}");
        if (f.State is not null && !WorkItemStates.All.Contains(f.State))
            return (null, $"{prefix}state: unknown state '{TextRules.Printable(f.State)}'; states are: {string.Join(", ", WorkItemStates.All)}.");
        if (f.Tier is not null)
        {
            // A tier some configured data type has (or exclude); with a data type, one of its own.
            var known = dataType is not null ? dataType.RejectTier(f.Tier) is null : catalog.All.Any(d => d.RejectTier(f.Tier) is null);
            if (!known)
                return (null, $"{prefix}tier: unknown tier '{TextRules.Printable(f.Tier)}'{(dataType is null ? " for every configured data type" : $" for data type '{dataType.Name}'")}.");
        }
        if (f.EntityPrefix is { Length: 0 })
            return (null, $"{prefix}entityPrefix is empty; leave it out to match every entity id.");
        if (f.ErrorContains is not null && string.IsNullOrWhiteSpace(f.ErrorContains))
            return (null, $"{prefix}errorContains is empty; leave it out to match any error.");
        return (f, null);
    }

    private static string NoFilter(string prefix) =>
        $"{(prefix.Length == 0 ? "The filter" : "filter")} has no field; give at least one of {prefix}dataType, {prefix}state, {prefix}tier, {prefix}entityPrefix, {prefix}errorContains "
        + "(a bulk action never matches every item by default; to act on all items of a data type, filter by it).";
}
