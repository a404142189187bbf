using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Pipeline.Tests.Native;

public sealed class ColumnTypeParseTests
{
    [Theory]
    [InlineData("UInt8", typeof(UInt8Column))]
    [InlineData("Int64", typeof(Int64Column))]
    [InlineData("Float32", typeof(Float32Column))]
    [InlineData("Bool", typeof(BoolColumn))]
    [InlineData("String", typeof(StringColumn))]
    [InlineData("FixedString(16)", typeof(FixedStringColumn))]
    [InlineData("Date", typeof(DateColumn))]
    [InlineData("Date32", typeof(Date32Column))]
    [InlineData("DateTime", typeof(DateTimeColumn))]
    [InlineData("DateTime('Europe/Berlin')", typeof(DateTimeColumn))]
    [InlineData("DateTime64(3, 'UTC')", typeof(DateTime64Column))]
    [InlineData("UUID", typeof(UuidColumn))]
    [InlineData("IPv4", typeof(IPv4Column))]
    [InlineData("IPv6", typeof(IPv6Column))]
    [InlineData("Decimal(9, 2)", typeof(Decimal32Column))]
    [InlineData("Decimal(18, 4)", typeof(Decimal64Column))]
    [InlineData("Decimal(38, 10)", typeof(Decimal128Column))]
    [InlineData("Decimal64(3)", typeof(Decimal64Column))]
    [InlineData("Enum8('a' = 1, 'b' = 2)", typeof(Enum8Column))]
    [InlineData("Enum16('a' = -1000, 'b' = 2000)", typeof(Enum16Column))]
    [InlineData("Nullable(String)", typeof(NullableColumn))]
    [InlineData("Array(Array(UInt16))", typeof(ArrayColumn))]
    [InlineData("LowCardinality(String)", typeof(LowCardinalityStringColumn))]
    [InlineData("LowCardinality(Nullable(String))", typeof(LowCardinalityStringColumn))]
    [InlineData("Map(String, UInt64)", typeof(MapColumn))]
    [InlineData("Tuple(UInt8, String)", typeof(TupleColumn))]
    [InlineData("Tuple(a UInt8, `b c` Nullable(String))", typeof(TupleColumn))]
    public void Parses_type_names_and_keeps_the_text_as_given(string name, Type columnType)
    {
        var type = ColumnType.Parse(name, "c");
        Assert.Equal(name, type.Name);
        using var column = type.CreateColumn();
        Assert.IsType(columnType, column);
    }

    [Fact]
    public void Parses_nested_parameters()
    {
        var array = Assert.IsType<ArrayType>(ColumnType.Parse("Array(Array(Nullable(UInt16)))"));
        var inner = Assert.IsType<ArrayType>(array.Element);
        Assert.Equal("Array(Nullable(UInt16))", inner.Name);
        Assert.Equal("UInt16", Assert.IsType<NullableType>(inner.Element).Nested.Name);

        var map = Assert.IsType<MapType>(ColumnType.Parse("Map(String, Array(Tuple(UInt8, String)))"));
        Assert.Equal("String", map.Key.Name);
        var tuple = Assert.IsType<TupleType>(Assert.IsType<ArrayType>(map.Value).Element);
        Assert.Equal(["UInt8", "String"], tuple.Elements.Select(e => e.Name));

        var named = Assert.IsType<TupleType>(ColumnType.Parse("Tuple(a UInt8, `b c` DateTime('UTC'), d Decimal(10, 2))"));
        Assert.Equal(["UInt8", "DateTime('UTC')", "Decimal(10, 2)"], named.Elements.Select(e => e.Name));

        var dec = Assert.IsType<DecimalType>(ColumnType.Parse("Decimal(18, 4)"));
        Assert.Equal((18, 4), (dec.Precision, dec.Scale));
        var d64 = Assert.IsType<DateTime64Type>(ColumnType.Parse("DateTime64(6, 'Europe/Berlin')"));
        Assert.Equal(6, d64.Precision);
        Assert.Equal("Europe/Berlin", d64.Zone!.Id);
        Assert.Null(Assert.IsType<DateTimeType>(ColumnType.Parse("DateTime('UTC')")).Zone);
        Assert.Equal(16, Assert.IsType<FixedStringType>(ColumnType.Parse("FixedString(16)")).Length);
        Assert.True(Assert.IsType<LowCardinalityType>(ColumnType.Parse("LowCardinality(Nullable(String))")).IsNullable);
    }

    [Fact]
    public void Enum_names_are_unquoted_with_escapes()
    {
        var type = Assert.IsType<EnumType>(ColumnType.Parse(@"Enum8('a' = 1, 'it\'s, (x)' = -2, 'é' = 127)"));
        Assert.Equal(["a", "it's, (x)", "é"], type.Values.Entries.Select(e => System.Text.Encoding.UTF8.GetString(e.Name)));
        Assert.Equal([1, -2, 127], type.Values.Entries.Select(e => (int)e.Value));
    }

    [Theory]
    [InlineData("Foo", "unsupported ClickHouse type 'Foo' for column 'col'")]
    [InlineData("Array(Foo)", "unsupported ClickHouse type 'Foo' for column 'col' (in 'Array(Foo)')")]
    [InlineData("LowCardinality(UInt64)", "unsupported ClickHouse type 'LowCardinality(UInt64)' for column 'col'")]
    [InlineData("Decimal(76, 2)", "Decimal256")]
    [InlineData("DateTime('Mars/Olympus')", "unknown time zone 'Mars/Olympus'")]
    [InlineData("Object('json')", "unsupported ClickHouse type 'Object('json')'")]
    public void Unsupported_types_are_named_with_the_column(string name, string message)
    {
        var e = Assert.Throws<NotSupportedException>(() => ColumnType.Parse(name, "col"));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Array(UInt8")]
    [InlineData("Nullable()")]
    [InlineData("FixedString(x)")]
    [InlineData("FixedString(0)")]
    [InlineData("UInt8(3)")]
    [InlineData("Map(String)")]
    [InlineData("Decimal(10)")]
    [InlineData("Decimal(5, 6)")]
    [InlineData("DateTime64(10)")]
    [InlineData("Enum8('a' = 300)")]
    [InlineData("Enum8(a = 1)")]
    [InlineData("Tuple(UInt8, 'x)")]
    [InlineData("")]
    public void Malformed_type_names_are_format_errors_naming_the_column(string name)
    {
        var e = Assert.Throws<FormatException>(() => ColumnType.Parse(name, "col"));
        Assert.Contains("for column 'col'", e.Message, StringComparison.Ordinal);
    }
}
