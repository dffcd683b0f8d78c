namespace BatchScheduler.Tests.Lifecycle;

/// <summary>
/// One property checked after the randomized run: how many cases it covered, which broke it, how
/// many it left aside (with why in <see cref="Note"/>) and how many were still open when it was asked.
/// </summary>
internal sealed record CheckResult(string Name, int Checked, IReadOnlyList<string> Violations, int Skipped = 0, int Pending = 0, string Note = "")
{
    public const int Examples = 8;

    public bool Holds => Violations.Count == 0;

    public override string ToString() =>
        $"{(Holds ? "ok  " : "FAIL")} {Name}: {Violations.Count} violation(s) in {Checked} checked"
        + (Skipped > 0 ? $", {Skipped} left aside" : "") + (Note.Length > 0 ? $"; {Note}" : "")
        + string.Concat(Violations.Take(Examples).Select(v => $"\n       - {v}"))
        + (Violations.Count > Examples ? $"\n       … and {Violations.Count - Examples} more" : "");
}
