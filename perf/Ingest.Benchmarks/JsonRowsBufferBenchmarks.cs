using BenchmarkDotNet.Attributes;
using Ingest.Pipeline.Batching;

namespace Ingest.Benchmarks;

/// <summary>The #2 path per message: validate one JSON object and append it to a JSONEachRow body (ClickHouse
/// parses the JSON server-side). Baseline for the columnar Native path of #3.</summary>
[MemoryDiagnoser]
public class JsonRowsBufferBenchmarks
{
    private const int Messages = 10_000;
    private byte[][] _messages = [];
    private JsonRowsBuffer _batch = null!;

    [GlobalSetup]
    public void Setup()
    {
        _messages = Enumerable.Range(0, Messages).Select(i => System.Text.Encoding.UTF8.GetBytes(
            $"{{\"ts\":\"2026-01-01 00:{i / 60 % 60:00}:{i % 60:00}\",\"user_id\":{1_000_000 + i * 7919 % 100_000},\"event\":\"click\",\"value\":{i % 10_000 / 100.0:0.00},\"tags\":[\"mobile\",\"eu\"]}}")).ToArray();
        _batch = new JsonRowsBuffer();
    }

    [GlobalCleanup]
    public void Cleanup() => _batch.Dispose();

    [Benchmark(OperationsPerInvoke = Messages)]
    public int ValidateAndAppend()
    {
        _batch.Clear();
        for (var i = 0; i < _messages.Length; i++) _batch.Add(_messages[i], default);
        return _batch.Rows;
    }
}
