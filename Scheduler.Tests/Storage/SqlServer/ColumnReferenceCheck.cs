using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace BatchScheduler.Tests.Storage.SqlServer;

/// <summary>
/// Checks that every table and column a T-SQL statement names exists in a <see cref="SqlServerSchema"/>.
/// Column references are resolved as SQL Server scopes them: a qualified one (<c>w.state</c>) against the
/// table or alias of that name in its query or an enclosing one (correlated subqueries); an unqualified
/// one against the tables of its own query, then the enclosing ones'. Sources besides base tables:
/// derived tables and <c>VALUES</c> tables (their column lists or select lists), common table expressions,
/// a <c>MERGE</c>'s target and source, and the <c>inserted</c>/<c>deleted</c> pseudo-tables of
/// <c>OUTPUT</c> (the statement's target). An <c>INSERT</c>'s column list and an <c>UPDATE</c>'s or
/// <c>MERGE</c>'s <c>SET</c> targets must be columns of the target itself.
/// </summary>
/// <remarks>
/// Lenient where it does not matter for names: an unqualified name matching a select-list alias passes
/// (as <c>ORDER BY</c> allows), and a derived table selecting <c>*</c> accepts any column.
/// </remarks>
internal sealed class ColumnReferenceCheck : TSqlFragmentVisitor
{
    private readonly SqlServerSchema _schema;
    private readonly Stack<Scope> _scopes = new();
    private readonly Dictionary<string, HashSet<string>?> _ctes = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> _problems = [];
    private readonly HashSet<ColumnReferenceExpression> _targetColumns = new(ReferenceEqualityComparer.Instance);

    private ColumnReferenceCheck(SqlServerSchema schema) => _schema = schema;

    /// <summary>The names in <paramref name="sql"/> that the schema lacks, each as "table X has no column y"; parse errors too.</summary>
    public static IReadOnlyList<string> Problems(string sql, SqlServerSchema schema)
    {
        var fragment = new TSql160Parser(initialQuotedIdentifiers: true).Parse(new StringReader(sql), out var errors);
        if (errors.Count > 0)
            return [.. errors.Select(e => $"line {e.Line}, column {e.Column}: {e.Message}")];
        var check = new ColumnReferenceCheck(schema);
        fragment.Accept(check);
        return check._problems.Distinct(StringComparer.Ordinal).ToList();
    }

    public override void Visit(CommonTableExpression node) =>
        _ctes[node.ExpressionName.Value] = node.Columns.Count > 0
            ? new HashSet<string>(node.Columns.Select(c => c.Value), StringComparer.OrdinalIgnoreCase)
            : SelectedColumns(node.QueryExpression);

    public override void ExplicitVisit(QuerySpecification node)
    {
        var scope = new Scope();
        foreach (var reference in node.FromClause?.TableReferences ?? [])
            AddSources(scope, reference);
        foreach (var element in node.SelectElements.OfType<SelectScalarExpression>())
        {
            if (element.ColumnName?.Value is { } alias)
                scope.Aliases.Add(alias);
        }
        Within(scope, () => base.ExplicitVisit(node));
    }

    public override void ExplicitVisit(UpdateSpecification node)
    {
        var (scope, target) = DmlScope(node.Target, node.FromClause);
        foreach (var set in node.SetClauses.OfType<AssignmentSetClause>())
            CheckTargetColumn(target, set.Column, "UPDATE … SET");
        Within(scope, () => base.ExplicitVisit(node));
    }

    public override void ExplicitVisit(DeleteSpecification node)
    {
        var (scope, _) = DmlScope(node.Target, node.FromClause);
        Within(scope, () => base.ExplicitVisit(node));
    }

    /// <summary>An UPDATE's or DELETE's scope: its target, its FROM's tables and the target's OUTPUT pseudo-tables.</summary>
    private (Scope Scope, Source? Target) DmlScope(TableReference target, FromClause? from)
    {
        var scope = new Scope();
        var source = AddSources(scope, target);
        foreach (var reference in from?.TableReferences ?? [])
            AddSources(scope, reference);
        AddPseudoTables(scope, source);
        return (scope, source);
    }

    public override void ExplicitVisit(InsertSpecification node)
    {
        var targetScope = new Scope();
        var target = AddSources(targetScope, node.Target);
        foreach (var column in node.Columns)
            CheckTargetColumn(target, column, "INSERT column list");
        node.InsertSource?.Accept(this); // its SELECT or VALUES sees the enclosing scopes, not the target
        var output = new Scope();
        AddPseudoTables(output, target);
        Within(output, () => node.OutputClause?.Accept(this));
    }

    public override void ExplicitVisit(MergeSpecification node)
    {
        var scope = new Scope();
        var target = AddSources(scope, node.Target, node.TableAlias?.Value);
        AddSources(scope, node.TableReference);
        AddPseudoTables(scope, target);
        Within(scope, () =>
        {
            node.TableReference.Accept(this);
            node.SearchCondition?.Accept(this);
            foreach (var clause in node.ActionClauses)
            {
                clause.SearchCondition?.Accept(this);
                switch (clause.Action)
                {
                    case UpdateMergeAction update:
                        foreach (var set in update.SetClauses.OfType<AssignmentSetClause>())
                        {
                            CheckTargetColumn(target, set.Column, "MERGE … UPDATE SET");
                            set.NewValue?.Accept(this);
                        }
                        break;
                    case InsertMergeAction insert:
                        foreach (var column in insert.Columns)
                            CheckTargetColumn(target, column, "MERGE … INSERT column list");
                        insert.Source?.Accept(this);
                        break;
                }
            }
            node.OutputClause?.Accept(this);
        });
    }

    public override void Visit(ColumnReferenceExpression node)
    {
        if (node.ColumnType != ColumnType.Regular || node.MultiPartIdentifier is null || _targetColumns.Contains(node))
            return;
        var parts = node.MultiPartIdentifier.Identifiers;
        var column = parts[^1].Value;
        var qualifier = parts.Count >= 2 ? parts[^2].Value : null;
        if (qualifier is not null)
        {
            var source = _scopes.SelectMany(s => s.Sources).FirstOrDefault(s => string.Equals(s.Name, qualifier, StringComparison.OrdinalIgnoreCase));
            if (source is null)
                _problems.Add($"{qualifier}.{column}: no table or alias {qualifier} in scope");
            else if (!source.Has(column))
                _problems.Add($"{qualifier}.{column}: {source.Describe()} has no column {column}");
            return;
        }
        if (_scopes.Any(s => s.Sources.Any(source => source.Has(column)) || s.Aliases.Contains(column)))
            return;
        var inScope = string.Join(", ", _scopes.SelectMany(s => s.Sources).Select(s => s.Describe()));
        _problems.Add($"{column}: no table in scope has column {column} (in scope: {(inScope.Length == 0 ? "none" : inScope)})");
    }

    private void Within(Scope scope, Action visit)
    {
        _scopes.Push(scope);
        try
        {
            visit();
        }
        finally
        {
            _scopes.Pop();
        }
    }

    private void CheckTargetColumn(Source? target, ColumnReferenceExpression column, string where)
    {
        _targetColumns.Add(column); // checked here against the target alone, not resolved again in scope
        var name = column.MultiPartIdentifier.Identifiers[^1].Value;
        if (target is not null && !target.Has(name))
            _problems.Add($"{name} ({where}): {target.Describe()} has no column {name}");
    }

    private static void AddPseudoTables(Scope scope, Source? target)
    {
        if (target?.Table is null)
            return;
        scope.Sources.Add(target with { Name = "inserted" });
        scope.Sources.Add(target with { Name = "deleted" });
    }

    /// <summary>Adds the sources of a FROM item to the scope; returns the first named table (the target of a DML statement).</summary>
    private Source? AddSources(Scope scope, TableReference? reference, string? alias = null)
    {
        switch (reference)
        {
            case NamedTableReference named:
                var table = named.SchemaObject.BaseIdentifier.Value;
                var name = alias ?? named.Alias?.Value ?? table;
                Source source;
                if (_ctes.TryGetValue(table, out var cteColumns))
                    source = new Source(name, null, cteColumns);
                else if (_schema.Tables.TryGetValue(table, out var columns))
                    source = new Source(name, table, columns);
                else
                {
                    _problems.Add($"{table}: no such table in database/sqlserver");
                    source = new Source(name, null, null);
                }
                scope.Sources.Add(source);
                return source;
            case QualifiedJoin join:
                var first = AddSources(scope, join.FirstTableReference);
                AddSources(scope, join.SecondTableReference);
                return first;
            case UnqualifiedJoin join:
                var left = AddSources(scope, join.FirstTableReference);
                AddSources(scope, join.SecondTableReference);
                return left;
            case JoinParenthesisTableReference parenthesis:
                return AddSources(scope, parenthesis.Join);
            case QueryDerivedTable derived:
                scope.Sources.Add(new Source(derived.Alias?.Value ?? "", null, derived.Columns.Count > 0
                    ? new HashSet<string>(derived.Columns.Select(c => c.Value), StringComparer.OrdinalIgnoreCase)
                    : SelectedColumns(derived.QueryExpression)));
                return null;
            case InlineDerivedTable values:
                scope.Sources.Add(new Source(values.Alias?.Value ?? "", null,
                    new HashSet<string>(values.Columns.Select(c => c.Value), StringComparer.OrdinalIgnoreCase)));
                return null;
            default:
                return null;
        }
    }

    /// <summary>The column names a query yields; null (any) when it selects <c>*</c>.</summary>
    private static HashSet<string>? SelectedColumns(QueryExpression query)
    {
        while (query is BinaryQueryExpression binary)
            query = binary.FirstQueryExpression;
        if (query is QueryParenthesisExpression parenthesis)
            return SelectedColumns(parenthesis.QueryExpression);
        if (query is not QuerySpecification specification || specification.SelectElements.Any(e => e is SelectStarExpression))
            return null;
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var element in specification.SelectElements.OfType<SelectScalarExpression>())
        {
            if (element.ColumnName?.Value is { } alias)
                names.Add(alias);
            else if (element.Expression is ColumnReferenceExpression { MultiPartIdentifier.Identifiers: { Count: > 0 } parts })
                names.Add(parts[^1].Value);
        }
        return names;
    }

    private sealed class Scope
    {
        public List<Source> Sources { get; } = [];

        public HashSet<string> Aliases { get; } = new(StringComparer.OrdinalIgnoreCase);
    }

    /// <param name="Name">How the statement refers to it: its alias, else its table's name.</param>
    /// <param name="Table">The base table, when it is one.</param>
    /// <param name="Columns">Its columns; null when unknown (a derived table selecting <c>*</c>, an unknown table).</param>
    private sealed record Source(string Name, string? Table, HashSet<string>? Columns)
    {
        public bool Has(string column) => Columns is null || Columns.Contains(column);

        public string Describe() => Table is null ? $"derived table {Name}" : string.Equals(Name, Table, StringComparison.OrdinalIgnoreCase) ? $"table {Table}" : $"table {Table} (as {Name})";
    }
}
