using System.Globalization;
using System.Text;

namespace Ingest.Pipeline.ClickHouse.Types;

/// <summary>A ClickHouse column type, parsed from its name as in system.columns.type; creates the matching
/// <see cref="Column"/>. <see cref="Name"/> is the text as given, which the Native block header repeats.</summary>
internal abstract class ColumnType
{
    protected ColumnType(string name) => Name = name;

    public string Name { get; }

    public abstract Column CreateColumn();

    public override string ToString() => Name;

    /// <summary>Parses a type name; throws <see cref="NotSupportedException"/> for types we cannot write and
    /// <see cref="FormatException"/> for malformed names, both naming the column.</summary>
    public static ColumnType Parse(string typeName, string? columnName = null)
    {
        ArgumentNullException.ThrowIfNull(typeName);
        return new TypeNameParser(typeName, columnName ?? "?").Parse(typeName);
    }
}

/// <summary>Types without parameters whose column needs nothing from the type.</summary>
internal sealed class SimpleType(string name, Func<Column> create) : ColumnType(name)
{
    public override Column CreateColumn() => create();
}

internal sealed class FixedStringType(string name, int length) : ColumnType(name)
{
    public int Length => length;

    public override Column CreateColumn() => new FixedStringColumn(length);
}

/// <summary>DateTime[('zone')]: the zone is resolved here, once, not per column or row. Null = UTC.</summary>
internal sealed class DateTimeType(string name, TimeZoneInfo? zone) : ColumnType(name)
{
    public TimeZoneInfo? Zone => zone;

    public override Column CreateColumn() => new DateTimeColumn(zone);
}

internal sealed class DateTime64Type(string name, int precision, TimeZoneInfo? zone) : ColumnType(name)
{
    public int Precision => precision;

    public TimeZoneInfo? Zone => zone;

    public override Column CreateColumn() => new DateTime64Column(precision, zone);
}

internal sealed class DecimalType(string name, int precision, int scale) : ColumnType(name)
{
    public int Precision => precision;

    public int Scale => scale;

    public override Column CreateColumn() => precision switch
    {
        <= 9 => new Decimal32Column(precision, scale),
        <= 18 => new Decimal64Column(precision, scale),
        _ => new Decimal128Column(precision, scale),
    };
}

internal sealed class EnumType(string name, bool wide, EnumValues values) : ColumnType(name)
{
    public EnumValues Values => values;

    public override Column CreateColumn() => wide ? new Enum16Column(values) : new Enum8Column(values);
}

internal sealed class NullableType(string name, ColumnType nested) : ColumnType(name)
{
    public ColumnType Nested => nested;

    public override Column CreateColumn() => new NullableColumn(nested.CreateColumn());
}

internal sealed class ArrayType(string name, ColumnType element) : ColumnType(name)
{
    public ColumnType Element => element;

    public override Column CreateColumn() => new ArrayColumn(element.CreateColumn());
}

internal sealed class MapType(string name, ColumnType key, ColumnType value) : ColumnType(name)
{
    public ColumnType Key => key;

    public ColumnType Value => value;

    public override Column CreateColumn() => new MapColumn(key.CreateColumn(), value.CreateColumn());
}

internal sealed class TupleType(string name, IReadOnlyList<ColumnType> elements) : ColumnType(name)
{
    public IReadOnlyList<ColumnType> Elements => elements;

    public override Column CreateColumn() => new TupleColumn([.. elements.Select(e => e.CreateColumn())]);
}

/// <summary>Only LowCardinality(String) and LowCardinality(Nullable(String)) are supported.</summary>
internal sealed class LowCardinalityType(string name, bool nullable) : ColumnType(name)
{
    public bool IsNullable => nullable;

    public override Column CreateColumn() => new LowCardinalityStringColumn(nullable);
}

/// <summary>Recursive-descent parsing of ClickHouse type names: Name or Name(arg, ...), where args are types,
/// numbers, quoted strings, enum entries ('a' = 1) or named tuple elements (name Type).</summary>
internal sealed class TypeNameParser(string whole, string column)
{
    /// <summary>Decimal256 (P 39..76) would need Int256; not needed by any table we write.</summary>
    private const int MaxDecimalPrecision = 38;

    private static readonly Dictionary<string, Func<Column>> Simple = new(StringComparer.Ordinal)
    {
        ["UInt8"] = () => new UInt8Column(),
        ["UInt16"] = () => new UInt16Column(),
        ["UInt32"] = () => new UInt32Column(),
        ["UInt64"] = () => new UInt64Column(),
        ["Int8"] = () => new Int8Column(),
        ["Int16"] = () => new Int16Column(),
        ["Int32"] = () => new Int32Column(),
        ["Int64"] = () => new Int64Column(),
        ["Float32"] = () => new Float32Column(),
        ["Float64"] = () => new Float64Column(),
        ["Bool"] = () => new BoolColumn(),
        ["String"] = () => new StringColumn(),
        ["Date"] = () => new DateColumn(),
        ["Date32"] = () => new Date32Column(),
        ["UUID"] = () => new UuidColumn(),
        ["IPv4"] = () => new IPv4Column(),
        ["IPv6"] = () => new IPv6Column(),
    };

    public ColumnType Parse(string text)
    {
        text = text.Trim();
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var family = open < 0 ? text : text[..open].TrimEnd();
        List<string> args = [];
        if (open >= 0)
        {
            if (!text.EndsWith(')')) throw Malformed(text, "missing ')'");
            args = SplitArguments(text[(open + 1)..^1]);
        }
        if (family.Length == 0) throw Malformed(text, "empty type name");
        if (Simple.TryGetValue(family, out var create))
            return open < 0 ? new SimpleType(text, create) : throw Malformed(text, $"{family} takes no parameters");

        switch (family)
        {
            case "Nullable":
                return new NullableType(text, Parse(Single(text, args)));
            case "Array":
                return new ArrayType(text, Parse(Single(text, args)));
            case "LowCardinality":
                var inner = Parse(Single(text, args));
                if (inner is SimpleType { Name: "String" }) return new LowCardinalityType(text, false);
                if (inner is NullableType { Nested: SimpleType { Name: "String" } }) return new LowCardinalityType(text, true);
                throw Unsupported(text);
            case "Map":
                if (args.Count != 2) throw Malformed(text, "Map takes a key and a value type");
                return new MapType(text, Parse(args[0]), Parse(args[1]));
            case "Tuple":
                if (args.Count == 0) throw Malformed(text, "Tuple needs at least one element");
                return new TupleType(text, [.. args.Select(a => Parse(StripElementName(a)))]);
            case "FixedString":
                var length = Integer(text, Single(text, args));
                return length >= 1 ? new FixedStringType(text, length) : throw Malformed(text, "FixedString length must be at least 1");
            case "DateTime":
                if (args.Count > 1) throw Malformed(text, "DateTime takes at most a time zone");
                return new DateTimeType(text, args.Count == 1 ? Zone(text, args[0]) : null);
            case "DateTime64":
                if (args.Count is < 1 or > 2) throw Malformed(text, "DateTime64 takes a precision and an optional time zone");
                var precision = Integer(text, args[0]);
                if (precision is < 0 or > 9) throw Malformed(text, "DateTime64 precision must be 0..9");
                return new DateTime64Type(text, precision, args.Count == 2 ? Zone(text, args[1]) : null);
            case "Decimal":
                if (args.Count != 2) throw Malformed(text, "Decimal takes a precision and a scale");
                return Decimal(text, Integer(text, args[0]), Integer(text, args[1]));
            case "Decimal32":
                return Decimal(text, 9, Integer(text, Single(text, args)));
            case "Decimal64":
                return Decimal(text, 18, Integer(text, Single(text, args)));
            case "Decimal128":
                return Decimal(text, 38, Integer(text, Single(text, args)));
            case "Enum8":
                return new EnumType(text, false, new EnumValues(text, EnumEntries(text, args, sbyte.MinValue, sbyte.MaxValue)));
            case "Enum16":
                return new EnumType(text, true, new EnumValues(text, EnumEntries(text, args, short.MinValue, short.MaxValue)));
            default:
                throw Unsupported(text);
        }
    }

    private DecimalType Decimal(string text, int precision, int scale)
    {
        if (precision > MaxDecimalPrecision) throw Unsupported(text, "Decimal256 (precision above 38) is not supported");
        if (precision < 1) throw Malformed(text, "Decimal precision must be 1..38");
        if (scale < 0 || scale > precision) throw Malformed(text, "Decimal scale must be 0..precision");
        return new DecimalType(text, precision, scale);
    }

    private List<(byte[] Name, short Value)> EnumEntries(string text, List<string> args, int min, int max)
    {
        if (args.Count == 0) throw Malformed(text, "Enum needs at least one value");
        var entries = new List<(byte[] Name, short Value)>(args.Count);
        foreach (var arg in args)
        {
            var eq = arg.LastIndexOf('=');
            if (eq < 0) throw Malformed(text, $"enum entry '{arg}' is not 'name' = value");
            var value = Integer(text, arg[(eq + 1)..]);
            if (value < min || value > max) throw Malformed(text, $"enum value {value} is out of range");
            entries.Add((Encoding.UTF8.GetBytes(Unquote(text, arg[..eq].Trim())), (short)value));
        }
        return entries;
    }

    private TimeZoneInfo? Zone(string text, string arg)
    {
        var id = Unquote(text, arg.Trim());
        if (id is "UTC" or "Etc/UTC") return null;
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (TimeZoneNotFoundException)
        {
            throw Unsupported(text, $"unknown time zone '{id}'");
        }
    }

    private string Single(string text, List<string> args)
        => args.Count == 1 ? args[0] : throw Malformed(text, "expected exactly one parameter");

    private int Integer(string text, string arg)
        => int.TryParse(arg.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Malformed(text, $"'{arg.Trim()}' is not an integer");

    /// <summary>Tuple(a UInt8, `b c` String): drops the element name; our columns are positional.</summary>
    private static string StripElementName(string arg)
    {
        arg = arg.Trim();
        if (arg.StartsWith('`'))
        {
            var close = arg.IndexOf('`', 1);
            return close > 0 ? arg[(close + 1)..] : arg;
        }
        var i = 0;
        while (i < arg.Length && (char.IsLetterOrDigit(arg[i]) || arg[i] == '_')) i++;
        if (i == arg.Length || !char.IsWhiteSpace(arg[i])) return arg;
        var rest = arg[i..].TrimStart();
        return rest.Length > 0 && (char.IsLetter(rest[0]) || rest[0] == '_') ? rest : arg;
    }

    private string Unquote(string text, string quoted)
    {
        if (quoted.Length < 2 || quoted[0] != '\'' || quoted[^1] != '\'') throw Malformed(text, $"expected a quoted string, got {quoted}");
        var sb = new StringBuilder(quoted.Length);
        for (var i = 1; i < quoted.Length - 1; i++)
        {
            var c = quoted[i];
            if (c == '\\' && i + 1 < quoted.Length - 1)
            {
                c = quoted[++i] switch
                {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    var other => other,
                };
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    private List<string> SplitArguments(string inner)
    {
        var args = new List<string>();
        var depth = 0;
        var start = 0;
        char quote = default;
        for (var i = 0; i < inner.Length; i++)
        {
            var c = inner[i];
            if (quote != default)
            {
                if (c == '\\') i++;
                else if (c == quote) quote = default;
                continue;
            }
            switch (c)
            {
                case '\'' or '"' or '`':
                    quote = c;
                    break;
                case '(':
                    depth++;
                    break;
                case ')':
                    if (--depth < 0) throw Malformed(whole, "unbalanced ')'");
                    break;
                case ',' when depth == 0:
                    args.Add(inner[start..i].Trim());
                    start = i + 1;
                    break;
            }
        }
        if (quote != default) throw Malformed(whole, "unterminated quote");
        if (depth != 0) throw Malformed(whole, "unbalanced '('");
        args.Add(inner[start..].Trim());
        if (args.Exists(a => a.Length == 0)) throw Malformed(whole, "empty parameter");
        return args;
    }

    private NotSupportedException Unsupported(string text, string? reason = null)
        => new($"unsupported ClickHouse type '{text}' for column '{column}'{(text == whole ? "" : $" (in '{whole}')")}{(reason is null ? "" : ": " + reason)}");

    private FormatException Malformed(string text, string reason)
        => new($"malformed ClickHouse type '{text}' for column '{column}'{(text == whole ? "" : $" (in '{whole}')")}: {reason}");
}
