using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.Tests.Batching;

public sealed class JsonRowsBufferTests
{
    private static readonly TopicPartition P0 = new("t", 0);

    [Fact]
    public void Lays_objects_out_as_JSONEachRow_and_the_partition_batch_commits_last_offset_plus_one()
    {
        var batch = new PartitionBatch(P0, new JsonRowsBuffer());
        Assert.Null(batch.Add(10, "{\"a\":1}"u8));
        Assert.Null(batch.Add(11, "{\"a\":2}"u8));

        Assert.Equal(2, batch.Rows.Rows);
        Assert.Equal("{\"a\":1}\n{\"a\":2}\n", Encoding.UTF8.GetString(((JsonRowsBuffer)batch.Rows).Body.Span));
        Assert.Equal(10, batch.FirstOffset);
        Assert.Equal("t [[0]] @12", batch.CommitOffset.ToString());
        batch.Rows.Dispose();
    }

    [Theory]
    [InlineData("{\"a\":1", "malformed JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("42", "not a JSON object")]
    [InlineData("{\"a\":1} {\"b\":2}", "malformed JSON: '{' is invalid after a single JSON value")]
    [InlineData("", "empty message")]
    public void Rejects_what_is_not_one_JSON_object_without_losing_the_rest(string message, string reason)
    {
        var batch = new PartitionBatch(P0, new JsonRowsBuffer());
        Assert.Null(batch.Add(0, "{\"ok\":1}"u8));
        var error = batch.Add(1, Encoding.UTF8.GetBytes(message));
        Assert.NotNull(error);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Null(batch.Add(2, "{\"ok\":2}"u8));

        Assert.Equal(2, batch.Rows.Rows);
        Assert.Equal(1, batch.Rejected);
        Assert.Equal("{\"ok\":1}\n{\"ok\":2}\n", Encoding.UTF8.GetString(((JsonRowsBuffer)batch.Rows).Body.Span));
        // The bad message's offset is consumed too, so it cannot block its partition.
        Assert.Equal("t [[0]] @3", batch.CommitOffset.ToString());
        batch.Rows.Dispose();
    }

    [Fact]
    public void Grows_past_its_first_buffer_and_clears_for_reuse()
    {
        using var rows = new JsonRowsBuffer();
        var big = Encoding.UTF8.GetBytes("{\"s\":\"" + new string('x', 1000) + "\"}");
        for (var i = 0; i < 1000; i++) Assert.Null(rows.Add(big, default));
        Assert.Equal(1000 * (big.Length + 1), rows.SourceBytes);
        Assert.Equal((byte)'\n', rows.Body.Span[^1]);

        rows.Clear();
        Assert.Equal(0, rows.Rows);
        Assert.Equal(0, rows.SourceBytes);
    }
}
