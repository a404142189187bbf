using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Pipeline.ClickHouse;

/// <summary>How ClickHouse fills a column (DESCRIBE's default_type).</summary>
internal enum DefaultKind
{
    /// <summary>No expression: the type's default (0, '', epoch, NULL).</summary>
    None,

    /// <summary>DEFAULT expr: computed by the server when the column is absent from the INSERT.</summary>
    Default,

    /// <summary>MATERIALIZED / ALIAS: never inserted.</summary>
    Computed,
}

internal sealed record TableColumn(string Name, ColumnType Type, DefaultKind Default, string DefaultExpression);

/// <summary>The insertable columns of a target table, read from the server (DESCRIBE TABLE works the same on
/// 18.16 and current versions). A type the server reports that Ingest cannot write fails here, at start,
/// naming the column, not on the first message.</summary>
internal sealed class TableSchema
{
    public TableSchema(string table, IReadOnlyList<TableColumn> columns, string describe = "")
    {
        Table = table;
        Columns = columns;
        Describe = describe;
    }

    /// <summary>DESCRIBE's text it was parsed from: equal texts, equal schemas.</summary>
    public string Describe { get; }

    /// <summary>"database.table".</summary>
    public string Table { get; }

    /// <summary>Columns an INSERT can write (MATERIALIZED and ALIAS left out), in table order.</summary>
    public IReadOnlyList<TableColumn> Columns { get; }

    public static async Task<TableSchema> LoadAsync(ClickHouseHttpClient client, string table, CancellationToken ct)
    {
        string text;
        try
        {
            text = await client.QueryAsync($"DESCRIBE TABLE {table} FORMAT TabSeparated", null, ct).ConfigureAwait(false);
        }
        catch (ClickHouseServerException e) when (e.Code == 60 || e.Code == 81)
        {
            throw new InvalidOperationException($"Target table {table} does not exist on {client.Endpoint}: {e.Message}", e);
        }
        return Parse(table, text);
    }

    /// <summary>Parses DESCRIBE's TSV: name, type, default_type, default_expression[, comment, ...].</summary>
    public static TableSchema Parse(string table, string describeTsv)
    {
        var columns = new List<TableColumn>();
        var problems = new List<string>();
        foreach (var line in describeTsv.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            if (f.Length < 2) throw new FormatException($"unexpected DESCRIBE line for {table}: '{line}'");
            var name = ClickHouseText.UnescapeTsv(f[0]);
            var kind = (f.Length > 2 ? f[2] : "") switch
            {
                "" => DefaultKind.None,
                "DEFAULT" => DefaultKind.Default,
                "MATERIALIZED" or "ALIAS" or "EPHEMERAL" => DefaultKind.Computed,
                var other => throw new FormatException($"unknown default kind '{other}' for {table}.{name}"),
            };
            if (kind == DefaultKind.Computed) continue;
            try
            {
                columns.Add(new TableColumn(name, ColumnType.Parse(ClickHouseText.UnescapeTsv(f[1]), name), kind, f.Length > 3 ? ClickHouseText.UnescapeTsv(f[3]) : ""));
            }
            catch (Exception e) when (e is NotSupportedException or FormatException)
            {
                problems.Add(e.Message);
            }
        }
        if (problems.Count > 0)
            throw new NotSupportedException($"Target table {table} has columns Ingest cannot write:\n  " + string.Join("\n  ", problems));
        if (columns.Count == 0) throw new InvalidOperationException($"Target table {table} has no insertable columns");
        return new TableSchema(table, columns, describeTsv);
    }
}
