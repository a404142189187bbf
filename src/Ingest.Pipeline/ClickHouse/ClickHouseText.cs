using System.Text;

namespace Ingest.Pipeline.ClickHouse;

/// <summary>Text in and out of ClickHouse: string literals for SQL, TabSeparated escaping
/// (https://clickhouse.com/docs/interfaces/formats/TabSeparated), and "database.table" names.</summary>
internal static class ClickHouseText
{
    /// <summary>A SQL string literal: 'it\'s'.</summary>
    public static string Quote(string s) =>
        "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>A column name in backquotes.</summary>
    public static string QuoteIdentifier(string name) => "`" + name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("`", "\\`", StringComparison.Ordinal) + "`";

    /// <summary>A TabSeparated field: backslash, tab and newline escaped.</summary>
    public static string EscapeTsv(string s) =>
        s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>A TabSeparated field back to its text, in one pass (sequential replaces would read an escaped
    /// backslash followed by 't' as a tab).</summary>
    public static string UnescapeTsv(string s)
    {
        if (!s.Contains('\\', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\' || i == s.Length - 1)
            {
                sb.Append(s[i]);
                continue;
            }
            var c = s[++i];
            sb.Append(c switch
            {
                't' => '\t',
                'n' => '\n',
                'r' => '\r',
                'b' => '\b',
                'f' => '\f',
                '0' => '\0',
                _ => c, // \\ \' and any other escaped character stand for themselves
            });
        }
        return sb.ToString();
    }

    /// <summary>"database.table" → its two parts (IngestOptions.Validate guarantees the dot).</summary>
    public static (string Database, string Name) SplitTable(string table)
    {
        var dot = table.IndexOf('.', StringComparison.Ordinal);
        return (table[..dot], table[(dot + 1)..]);
    }

    /// <summary>The ENGINE clause of Ingest's own bookkeeping tables (checkpoints, backup points): newest <c>version</c>
    /// wins per ORDER BY key; replicated like the target, {shard}/{replica} being the macros every replicated setup
    /// defines (18.16 has no {database}/{table} macros).</summary>
    public static string VersionedEngine(string table, bool replicated) => replicated
        ? $"ReplicatedReplacingMergeTree('/clickhouse/tables/{{shard}}/{table}', '{{replica}}', version)"
        : "ReplacingMergeTree(version)";
}
