using System.Buffers;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;
using Ingest.Pipeline.ClickHouse;
using Ingest.Pipeline.ClickHouse.Http;
using Ingest.Pipeline.Decoding;

namespace Ingest.Benchmarks;

/// <summary>`Ingest.Benchmarks alloc`: the decode + encode loop of <see cref="DecodeEncodeBenchmarks"/> measured with
/// GC.GetAllocatedBytesForCurrentThread, split into Decode, WriteNative and Clear, so an allocation can be pinned to
/// the step that makes it (BenchmarkDotNet only gives the total).</summary>
internal static class AllocationCheck
{
    public static int Run()
    {
        const int messages = 100_000;
        const int batchRows = 10_000;
        var inputs = Enumerable.Range(0, messages).Select(i => DecodeEncodeBenchmarks.Message(i)).ToArray();
        foreach (var eventType in new[] { "LowCardinality(String)", "String" })
        {
            var schema = TableSchema.Parse("bench.events", $"ts\tDateTime\t\t\nuser_id\tUInt64\t\t\nevent\t{eventType}\t\t\nvalue\tFloat64\t\t\ntags\tArray(String)\t\t\n");
            using var batch = new ColumnBatch(schema);
            var decoder = new JsonRowDecoder(schema, new MappingOptions());
            var output = new ArrayBufferWriter<byte>(1 << 20);
            long decode = 0, write = 0, clear = 0, batches = 0;
            // Round 0 warms up (first rents, JIT, tiering); rounds 1-3 are measured.
            for (var round = 0; round < 4; round++)
            {
                foreach (var m in inputs)
                {
                    var t0 = GC.GetAllocatedBytesForCurrentThread();
                    if (decoder.Decode(m, batch) is { } error) throw new InvalidOperationException(error);
                    var t1 = GC.GetAllocatedBytesForCurrentThread();
                    if (round > 0) decode += t1 - t0;
                    if (batch.Rows < batchRows) continue;
                    output.ResetWrittenCount();
                    batch.WriteNative(output);
                    var t2 = GC.GetAllocatedBytesForCurrentThread();
                    batch.Clear();
                    var t3 = GC.GetAllocatedBytesForCurrentThread();
                    if (round == 0) continue;
                    write += t2 - t1;
                    clear += t3 - t2;
                    batches++;
                }
            }
            var rows = 3L * messages;
            Console.WriteLine($"event {eventType,-22}: Decode {decode} B ({(double)decode / rows:0.000} B/msg), WriteNative {write} B " +
                $"({(double)write / batches:0} B/batch, {(double)write / rows:0.000} B/msg), Clear {clear} B; total {(double)(decode + write + clear) / rows:0.000} B/msg over {rows:N0} messages");
        }
        SendPath(inputs);
        return 0;
    }

    /// <summary>The send side: one 100,000-row batch written by BatchesContent (the worker's request body) into
    /// Stream.Null, Native and JSONEachRow, after a warm-up send.</summary>
    private static void SendPath(byte[][] inputs)
    {
        var schema = TableSchema.Parse("bench.events", "ts\tDateTime\t\t\nuser_id\tUInt64\t\t\nevent\tString\t\t\nvalue\tFloat64\t\t\ntags\tArray(String)\t\t\n");
        var partition = new TopicPartition("events", new Partition(0));
        IRowBuffer[] buffers = [new NativeRowBuffer(new ColumnBatch(schema), new JsonRowDecoder(schema, new MappingOptions())), new JsonRowsBuffer()];
        foreach (var buffer in buffers)
        {
            var batch = new PartitionBatch(partition, buffer);
            for (var i = 0; i < inputs.Length; i++) batch.Add(i, inputs[i]);
            var body = new ArrayBufferWriter<byte>();
            buffer.WriteTo(body);
            long allocated = 0;
            const int sends = 5;
            for (var send = 0; send <= sends; send++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                using (var content = new BatchesContent([batch], gzip: false)) content.CopyToAsync(Stream.Null).GetAwaiter().GetResult();
                if (send > 0) allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            }
            Console.WriteLine($"send {buffer.Format,-11} batch of {buffer.Rows:N0} rows ({body.WrittenCount / 1e6:0.0} MB body) through BatchesContent: " +
                $"{allocated / sends} B per send = {(double)allocated / sends / buffer.Rows:0.00} B/row");
            buffer.Dispose();
        }
    }
}
