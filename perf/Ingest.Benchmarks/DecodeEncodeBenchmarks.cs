using System.Buffers;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.Decoding;

namespace Ingest.Benchmarks;

/// <summary>The worker's per-message cost in steady state: <see cref="JsonRowDecoder.Decode(ReadOnlySpan{byte}, ColumnBatch)"/> into a reused
/// <see cref="ColumnBatch"/>, and every 10,000 rows the batch written as one Native block into a reused buffer and
/// cleared, as the pipeline does per flush. One invocation is <see cref="Messages"/> messages, so ns and bytes
/// per operation are per message with the per-batch work amortized. <see cref="JsonRowsBufferAdd"/> is the old
/// path (validate, copy the bytes for JSONEachRow) on the same messages.</summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class DecodeEncodeBenchmarks
{
    private const int Messages = 100_000;
    private const int BatchRows = 10_000;

    private static readonly string[] Events = ["click", "view", "purchase", "signup", "logout", "search"];
    private static readonly string[] Tags = ["mobile", "web", "beta", "eu", "us", "promo", "returning"];

    private byte[][] _messages = [];
    private ColumnBatch _batch = null!;
    private JsonRowDecoder _decoder = null!;
    private JsonRowsBuffer _jsonRows = null!;
    private ArrayBufferWriter<byte> _output = null!;

    /// <summary>LowCardinality(String): the reference schema on current servers; String: what 18.16 (the demo's
    /// server) gets, since its LowCardinality is experimental there.</summary>
    [Params("LowCardinality(String)", "String")]
    public string EventType { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var describe = $"ts\tDateTime\t\t\nuser_id\tUInt64\t\t\nevent\t{EventType}\t\t\nvalue\tFloat64\t\t\ntags\tArray(String)\t\t\n";
        var schema = TableSchema.Parse("bench.events", describe);
        _batch = new ColumnBatch(schema);
        _decoder = new JsonRowDecoder(schema, new MappingOptions());
        _jsonRows = new JsonRowsBuffer();
        _output = new ArrayBufferWriter<byte>(1 << 20);
        _messages = [.. Enumerable.Range(0, Messages).Select(i => Message(i))];
        var sizes = _messages.Select(m => m.Length).ToArray();
        if (sizes.Min() < 100 || sizes.Max() > 150) throw new InvalidOperationException($"messages are {sizes.Min()}..{sizes.Max()} bytes, expected 100..150");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batch.Dispose();
        _jsonRows.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public long DecodeAndWriteNative()
    {
        long written = 0;
        for (var i = 0; i < _messages.Length; i++)
        {
            if (_decoder.Decode(_messages[i], _batch) is { } error) throw new InvalidOperationException(error);
            if (_batch.Rows == BatchRows)
            {
                _output.ResetWrittenCount();
                _batch.WriteNative(_output);
                written += _output.WrittenCount;
                _batch.Clear();
            }
        }
        return written;
    }

    /// <summary>Decode alone (the batch cleared every 10,000 rows, nothing written): the worker writes the block
    /// later, inside the request body, so this plus the load harness's insert cost is the worker's per-row cost.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public int DecodeOnly()
    {
        var rows = 0;
        for (var i = 0; i < _messages.Length; i++)
        {
            if (_decoder.Decode(_messages[i], _batch) is { } error) throw new InvalidOperationException(error);
            if (_batch.Rows == BatchRows)
            {
                rows += _batch.Rows;
                _batch.Clear();
            }
        }
        return rows;
    }

    [Benchmark(OperationsPerInvoke = Messages, Baseline = true)]
    public long JsonRowsBufferAdd()
    {
        long written = 0;
        for (var i = 0; i < _messages.Length; i++)
        {
            if (_jsonRows.Add(_messages[i], default) is { } error) throw new InvalidOperationException(error);
            if (_jsonRows.Rows == BatchRows)
            {
                _output.ResetWrittenCount();
                _jsonRows.WriteTo(_output);
                written += _output.WrittenCount;
                _jsonRows.Clear();
            }
        }
        return written;
    }

    /// <summary>Same text as tools/Ingest.LocalStack SampleEvents.Write (the demo's events, ~120 bytes with an extra
    /// "seq" field no column takes), rebuilt here so the benchmark does not pull in Kafka and the local stack.</summary>
    internal static byte[] Message(long i)
    {
        var ts = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(i % 31_536_000);
        var s = string.Create(CultureInfo.InvariantCulture,
            $"{{\"ts\":\"{ts:yyyy-MM-dd HH:mm:ss}\",\"user_id\":{1_000_000 + (i * 7919 % 100_000)},\"event\":\"{Events[i % Events.Length]}\",\"value\":{(i % 10_000) / 100.0:0.00},\"tags\":[\"{Tags[i % Tags.Length]}\",\"{Tags[(i / 7) % Tags.Length]}\"],\"seq\":{i}}}");
        return Encoding.UTF8.GetBytes(s);
    }
}
