using System.Text;
using Confluent.Kafka;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.Tests;

public sealed class JsonRowsBatchTests
{
    private static readonly TopicPartition P0 = new("t", 0);
    private static readonly TopicPartition P1 = new("t", 1);

    [Fact]
    public void Lays_objects_out_as_JSONEachRow_and_commits_last_offset_plus_one_per_partition()
    {
        using var batch = new JsonRowsBatch();
        Assert.Null(batch.Add(P0, 10, "{\"a\":1}"u8));
        Assert.Null(batch.Add(P1, 3, "{\"a\":2}"u8));
        Assert.Null(batch.Add(P0, 11, "{\"a\":3}"u8));

        Assert.Equal(3, batch.Rows);
        Assert.Equal("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", Encoding.UTF8.GetString(batch.Body.Span));
        Assert.Equal(["t [[0]] @12", "t [[1]] @4"], batch.CommitOffsets.Select(o => o.ToString()).Order());
    }

    [Theory]
    [InlineData("{\"a\":1", "malformed JSON")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("42", "not a JSON object")]
    [InlineData("{\"a\":1} {\"b\":2}", "malformed JSON: '{' is invalid after a single JSON value")]
    [InlineData("", "malformed JSON")]
    public void Rejects_what_is_not_one_JSON_object_without_losing_the_rest(string message, string reason)
    {
        using var batch = new JsonRowsBatch();
        Assert.Null(batch.Add(P0, 0, "{\"ok\":1}"u8));
        var error = batch.Add(P0, 1, Encoding.UTF8.GetBytes(message));
        Assert.NotNull(error);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Null(batch.Add(P0, 2, "{\"ok\":2}"u8));

        Assert.Equal(2, batch.Rows);
        Assert.Equal("{\"ok\":1}\n{\"ok\":2}\n", Encoding.UTF8.GetString(batch.Body.Span));
        // The bad message's offset is consumed too, so it cannot block its partition.
        Assert.Equal("t [[0]] @3", Assert.Single(batch.CommitOffsets).ToString());
    }

    [Fact]
    public void Grows_past_its_first_buffer_and_clears_for_reuse()
    {
        using var batch = new JsonRowsBatch();
        var big = Encoding.UTF8.GetBytes("{\"s\":\"" + new string('x', 1000) + "\"}");
        for (var i = 0; i < 1000; i++) Assert.Null(batch.Add(P0, i, big));
        Assert.Equal(1000 * (big.Length + 1), batch.Bytes);
        Assert.Equal((byte)'\n', batch.Body.Span[^1]);

        batch.Clear();
        Assert.False(batch.HasOffsets);
        Assert.Equal(0, batch.Bytes);
    }
}
