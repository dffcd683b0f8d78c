using System.Data;
using System.Data.Common;

namespace BatchScheduler.Tests.Storage.SqlServer;

/// <summary>
/// What the recording connections saw: the text of every command executed, in order, and what each
/// command is answered (<see cref="Answer"/>: rows for a reader or a scalar; none by default).
/// </summary>
internal sealed class SqlRecord
{
    private readonly List<string> _statements = [];

    /// <summary>The answer to a command's text: a table whose rows a reader returns (a scalar is its first cell), or null for no rows.</summary>
    public Func<string, DataTable?> Answer { get; set; } = _ => null;

    /// <summary>What an insert, update or delete reports as its affected rows.</summary>
    public int RowsAffected { get; set; } = 1;

    public IReadOnlyList<string> Statements
    {
        get
        {
            lock (_statements)
                return [.. _statements];
        }
    }

    public void Add(string sql)
    {
        lock (_statements)
            _statements.Add(sql);
    }
}

/// <summary>Connections that reach no server: each command's text is recorded as it executes.</summary>
internal sealed class RecordingDataSource(SqlRecord record) : DbDataSource
{
    public override string ConnectionString => "Server=recording;Database=batch";

    protected override DbConnection CreateDbConnection() => new RecordingConnection(record);
}

internal sealed class RecordingConnection(SqlRecord record) : DbConnection
{
    private ConnectionState _state = ConnectionState.Closed;

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public override string ConnectionString { get; set; } = "Server=recording;Database=batch";

    public override string Database => "batch";

    public override string DataSource => "recording";

    public override string ServerVersion => "16.00";

    public override ConnectionState State => _state;

    public override void ChangeDatabase(string databaseName) => throw new NotSupportedException();

    public override void Close() => _state = ConnectionState.Closed;

    public override void Open() => _state = ConnectionState.Open;

    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => new RecordingTransaction(this, isolationLevel);

    protected override DbCommand CreateDbCommand() => new RecordingCommand(record) { Connection = this };
}

internal sealed class RecordingTransaction(DbConnection connection, IsolationLevel isolationLevel) : DbTransaction
{
    public override IsolationLevel IsolationLevel => isolationLevel;

    protected override DbConnection DbConnection => connection;

    public override void Commit()
    {
    }

    public override void Rollback()
    {
    }
}
