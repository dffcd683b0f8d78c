using BatchScheduler.Tests.Infrastructure;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace BatchScheduler.Tests.Storage.SqlServer;

/// <summary>
/// The tables and columns <c>database/sqlserver/V*.sql</c> leave behind, in version order: each
/// <c>CREATE TABLE</c>'s columns, then each <c>ALTER TABLE … ADD</c>'s and <c>DROP COLUMN</c>'s changes, read
/// from the scripts' syntax trees (ScriptDom). Names compare case-insensitively, as in SQL Server's
/// default collations (Quartz's <c>QRTZ_TRIGGERS</c> is the code's <c>qrtz_triggers</c>).
/// </summary>
internal sealed class SqlServerSchema
{
    private readonly Dictionary<string, HashSet<string>> _tables = new(StringComparer.OrdinalIgnoreCase);

    public IReadOnlyDictionary<string, HashSet<string>> Tables => _tables;

    public static SqlServerSchema FromScripts() =>
        FromScripts(Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "database", "sqlserver"), "V*.sql")
            .Order(StringComparer.Ordinal).Select(File.ReadAllText));

    public static SqlServerSchema FromScripts(IEnumerable<string> scripts)
    {
        var schema = new SqlServerSchema();
        foreach (var script in scripts)
        {
            var fragment = new TSql160Parser(initialQuotedIdentifiers: true).Parse(new StringReader(script), out var errors);
            if (errors.Count > 0)
                throw new InvalidOperationException($"A script does not parse: {errors[0].Message} (line {errors[0].Line})");
            fragment.Accept(new Reader(schema._tables));
        }
        return schema;
    }

    public bool HasTable(string table) => _tables.ContainsKey(table);

    public bool HasColumn(string table, string column) => _tables.TryGetValue(table, out var columns) && columns.Contains(column);

    private sealed class Reader(Dictionary<string, HashSet<string>> tables) : TSqlFragmentVisitor
    {
        public override void Visit(CreateTableStatement node) =>
            tables[node.SchemaObjectName.BaseIdentifier.Value] =
                new HashSet<string>(node.Definition.ColumnDefinitions.Select(c => c.ColumnIdentifier.Value), StringComparer.OrdinalIgnoreCase);

        public override void Visit(AlterTableAddTableElementStatement node)
        {
            var table = node.SchemaObjectName.BaseIdentifier.Value;
            if (!tables.TryGetValue(table, out var columns))
                throw new InvalidOperationException($"ALTER TABLE {table} ADD before any CREATE TABLE {table}.");
            foreach (var column in node.Definition.ColumnDefinitions)
                columns.Add(column.ColumnIdentifier.Value);
        }

        public override void Visit(AlterTableDropTableElementStatement node)
        {
            if (tables.TryGetValue(node.SchemaObjectName.BaseIdentifier.Value, out var columns))
            {
                foreach (var element in node.AlterTableDropTableElements.Where(e => e.TableElementType == TableElementType.Column))
                    columns.Remove(element.Name.Value);
            }
        }

        public override void Visit(DropTableStatement node)
        {
            foreach (var name in node.Objects)
                tables.Remove(name.BaseIdentifier.Value);
        }
    }
}
