using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using DbUp.Engine;

namespace BatchScheduler.Storage.Migrations;

/// <summary>
/// The versioned scripts under <c>database/&lt;provider&gt;/</c>, embedded in this assembly as
/// <c>BatchScheduler.Database.&lt;provider&gt;/&lt;file&gt;.sql</c> and journaled by file name alone
/// (<c>V001__quartz_tables.sql</c>), so the journal reads the same on every provider.
/// </summary>
internal static partial class MigrationScripts
{
    private const string ResourcePrefix = "BatchScheduler.Database.";

    /// <summary>The scripts for <paramref name="provider"/>, oldest version first.</summary>
    public static IReadOnlyList<SqlScript> For(StorageProvider provider) => For(provider, typeof(MigrationScripts).Assembly);

    internal static IReadOnlyList<SqlScript> For(StorageProvider provider, Assembly assembly)
    {
        var folder = FolderOf(provider);
        var scripts = new List<(int Version, SqlScript Script)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!TryGetFileName(resource, folder, out var fileName))
                continue;

            var match = ScriptFileName().Match(fileName);
            if (!match.Success)
                throw new InvalidOperationException(
                    $"Embedded migration script '{resource}' is not named V<version>__<description>.sql; rename it so its order is explicit.");

            using var stream = assembly.GetManifestResourceStream(resource)
                ?? throw new InvalidOperationException($"Embedded migration script '{resource}' could not be opened.");
            using var reader = new StreamReader(stream);
            var version = int.Parse(match.Groups["version"].Value, NumberStyles.None, CultureInfo.InvariantCulture);
            scripts.Add((version, new SqlScript(fileName, reader.ReadToEnd())));
        }

        if (scripts.Count == 0)
            throw new InvalidOperationException(
                $"No migration scripts for {provider} are embedded in {assembly.GetName().Name} (expected resources '{ResourcePrefix}{folder}/V*.sql').");

        var duplicate = scripts.GroupBy(s => s.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidOperationException(
                $"Migration scripts for {provider} share version {duplicate.Key}: {string.Join(", ", duplicate.Select(s => s.Script.Name))}.");

        return scripts.OrderBy(s => s.Version).Select(s => s.Script).ToArray();
    }

    /// <summary>The folder under <c>database/</c> that holds <paramref name="provider"/>'s scripts.</summary>
    public static string FolderOf(StorageProvider provider) => provider switch
    {
        StorageProvider.Postgres => "postgres",
        StorageProvider.SqlServer => "sqlserver",
        StorageProvider.Sqlite => "sqlite",
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "Unknown storage provider."),
    };

    // MSBuild's %(RecursiveDir) puts the platform's path separator between folder and file; accept any.
    private static bool TryGetFileName(string resource, string folder, out string fileName)
    {
        fileName = "";
        var head = ResourcePrefix + folder;
        if (resource.Length <= head.Length + 1
            || !resource.StartsWith(head, StringComparison.OrdinalIgnoreCase)
            || resource[head.Length] is not ('/' or '\\' or '.'))
            return false;

        var rest = resource[(head.Length + 1)..];
        if (rest.Contains('/') || rest.Contains('\\') || !rest.EndsWith(".sql", StringComparison.OrdinalIgnoreCase))
            return false;

        fileName = rest;
        return true;
    }

    [GeneratedRegex(@"^V(?<version>[0-9]{1,9})__[A-Za-z0-9_]+\.sql$", RegexOptions.CultureInvariant)]
    private static partial Regex ScriptFileName();
}
