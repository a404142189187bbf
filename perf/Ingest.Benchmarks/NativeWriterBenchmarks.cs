using System.Buffers;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Ingest.Pipeline.ClickHouse.Native;
using Ingest.Pipeline.ClickHouse.Types;

namespace Ingest.Benchmarks;

/// <summary>Appending JSON rows to Native columns and writing the block: the per-row path must not allocate
/// (MemoryDiagnoser should show only the per-batch constant).</summary>
[MemoryDiagnoser]
public class NativeWriterBenchmarks
{
    private const int Rows = 10_000;

    private static readonly string[] Names = ["id", "ts", "name", "tag", "tags", "amount"];
    private static readonly ColumnType[] Types =
    [
        ColumnType.Parse("UInt64"), ColumnType.Parse("DateTime"), ColumnType.Parse("String"),
        ColumnType.Parse("LowCardinality(String)"), ColumnType.Parse("Array(String)"), ColumnType.Parse("Decimal(18, 4)"),
    ];

    private readonly Column[] _columns = [.. Types.Select(t => t.CreateColumn())];
    private readonly NativeBlockWriter _writer = new(Names, Types);
    private readonly ArrayBufferWriter<byte> _output = new(1 << 20);
    private byte[] _json = [];

    [GlobalSetup]
    public void Setup()
    {
        var sb = new StringBuilder("[");
        for (var i = 0; i < Rows; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"[{i}, \"2026-01-01T00:00:{i % 60:00}Z\", \"user \\u00e9 {i}\", \"tag{i % 20}\", [\"a\", \"b{i % 7}\"], {i}.25]");
        }
        _json = Encoding.UTF8.GetBytes(sb.Append(']').ToString());
    }

    [Benchmark]
    public int AppendAndWrite()
    {
        foreach (var c in _columns) c.Clear();
        var reader = new Utf8JsonReader(_json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.StartArray)
        {
            foreach (var c in _columns)
            {
                reader.Read();
                c.AppendJson(ref reader);
            }
            reader.Read();
        }
        _output.ResetWrittenCount();
        _writer.Write(_output, _columns);
        return _output.WrittenCount;
    }
}
