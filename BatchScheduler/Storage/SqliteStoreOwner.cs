using System.Globalization;
using System.Text.Json;

namespace BatchScheduler.Storage;

/// <summary>
/// The node that holds a SQLite database file (<see cref="SqliteOwnerLock"/>), as it writes itself
/// into <c>&lt;file&gt;.owner</c> beside it, so that a node refused the file can say who has it.
/// </summary>
internal sealed record SqliteStoreOwner(string NodeId, string Role, string Host, int ProcessId, DateTimeOffset Since)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Where the owner of <paramref name="databasePath"/> is written.</summary>
    public static string PathFor(string databasePath) => databasePath + ".owner";

    /// <summary>Writes the owner whole (a temp file renamed over the old one), so a reader never sees half of it.</summary>
    public void WriteTo(string path)
    {
        var temp = $"{path}.{ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The owner written at <paramref name="path"/>; null when there is none or it cannot be read.</summary>
    public static SqliteStoreOwner? ReadFrom(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<SqliteStoreOwner>(File.ReadAllText(path), Json);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public override string ToString() =>
        $"node '{NodeId}' ({Role}, host {Host}, pid {ProcessId.ToString(CultureInfo.InvariantCulture)}, since {Since.ToString("u", CultureInfo.InvariantCulture)})";
}
