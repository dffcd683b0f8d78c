using System.Text.RegularExpressions;
using DbUp.Engine;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// Lets a SQLite script rebuild a table (create a copy, drop the table, rename the copy, as V011 does)
/// while views read that table (V018's <c>ops_*</c>). Since SQLite 3.26 a rename checks every view and
/// fails while one names the dropped table ("error in view ops_work_items: no such table"), which broke
/// running V011 again after V018: the README's by-hand install, then <c>migrate</c>. A script that renames a
/// table runs with <c>PRAGMA legacy_alter_table</c> on, under which a rename neither checks nor rewrites
/// views; they name the table again once the copy has its name. Other scripts run unchanged.
/// </summary>
internal sealed partial class SqliteRebuildGuard : IScriptPreprocessor
{
    public string Process(string contents) =>
        RenameTable().IsMatch(contents)
            ? $"PRAGMA legacy_alter_table = ON;\n{contents}\nPRAGMA legacy_alter_table = OFF;\n"
            : contents;

    [GeneratedRegex(@"^ALTER TABLE \w+ RENAME TO ", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex RenameTable();
}
