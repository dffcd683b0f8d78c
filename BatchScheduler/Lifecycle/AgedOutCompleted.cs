using System.Data.Common;
using BatchScheduler.Storage;

namespace BatchScheduler.Lifecycle;

/// <summary>
/// Which of a data type's items retention may delete (<c>DataTypes:&lt;name&gt;:Retention:Completed</c>): completed, in a
/// tier that runs once (one of <paramref name="OneShotTiers"/>, or none), unchanged since <paramref name="Before"/> (its
/// completion, or a re-registration since), not paused, not a batch's (a batch's archive removes those), and with
/// neither trigger nor firing (a run-now, an upstream arm or a runAt ahead makes it due again). The same condition
/// finds the candidates and, under their locks, deletes them.
/// </summary>
internal sealed record AgedOutCompleted(string DataType, IReadOnlyList<string> OneShotTiers, DateTimeOffset Before, string SchedulerName)
{
    /// <summary>The condition on a <c>work_items</c> row (parameters: <see cref="Parameters"/>).</summary>
    public string Condition =>
        $"""
        work_items.data_type = @dataType AND work_items.state = 'completed' AND work_items.updated_at < @before
        AND work_items.paused_at IS NULL AND work_items.batch_id IS NULL
        AND (work_items.tier IS NULL{(OneShotTiers.Count == 0 ? "" : $" OR work_items.tier IN ({string.Join(", ", OneShotTiers.Select((_, i) => $"@oneShot{i}"))})")})
        AND {SqlDialect.NoTriggerNorFiring}
        """;

    /// <summary>Adds the condition's parameters but <c>@dataType</c>, which the caller gives.</summary>
    public DbCommand Parameters(DbCommand command)
    {
        command.With("@before", Before.ToUniversalTime()).With("@sched", SchedulerName);
        for (var i = 0; i < OneShotTiers.Count; i++)
            command.With($"@oneShot{i}", OneShotTiers[i]);
        return command;
    }
}
