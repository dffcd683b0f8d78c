using CsvHelper;

namespace BatchScheduler.Batches;

/// <summary>The header of a CSV batch file: column names and where the reserved fields are (-1 when absent).</summary>
internal sealed record CsvColumns(string[] Names, int EntityId, int DataType, int Tier, int RunAt)
{
    public int PayloadColumns => Names.Length - 1 - (DataType >= 0 ? 1 : 0) - (Tier >= 0 ? 1 : 0) - (RunAt >= 0 ? 1 : 0);

    /// <summary>Whether column <paramref name="i"/> is one of the reserved fields rather than the payload's.</summary>
    public bool IsReserved(int i) => i == EntityId || i == DataType || i == Tier || i == RunAt;

    public static CsvColumns FromHeader(CsvReader csv, long line)
    {
        var names = new string[csv.FieldCount];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        int entityId = -1, dataType = -1, tier = -1, runAt = -1;
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = csv.GetString(i).Trim();
            if (names[i].Length == 0)
                throw new BatchFileException($"Column {i + 1} of the CSV header (line {line}) has no name; every column needs one.");
            if (!seen.Add(names[i]))
                throw new BatchFileException($"The CSV header (line {line}) names column '{names[i]}' twice (names are matched ignoring case).");
            switch (BatchRecord.Reserved(names[i]))
            {
                case BatchRecord.EntityId: entityId = i; break;
                case BatchRecord.DataType: dataType = i; break;
                case BatchRecord.Tier: tier = i; break;
                case BatchRecord.RunAt: runAt = i; break;
            }
        }
        if (entityId < 0)
            throw new BatchFileException($"The CSV header (line {line}) has no entityId column; it has: {string.Join(", ", names)}. The first line must name the columns, one of them entityId.");
        return new CsvColumns(names, entityId, dataType, tier, runAt);
    }
}
