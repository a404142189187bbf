using System.Net;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.Pipeline.Tests;

public sealed class ClickHouseServerExceptionTests
{
    [Fact]
    public void Parses_the_18_16_error_text()
    {
        var e = ClickHouseServerException.Parse(HttpStatusCode.InternalServerError, null,
            "Code: 242, e.displayText() = DB::Exception: Table is in readonly mode, e.what() = DB::Exception\n");
        Assert.Equal(242, e.Code);
        Assert.True(e.IsRetryable);
        Assert.Contains("Table is in readonly mode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefers_the_modern_exception_code_header()
    {
        var e = ClickHouseServerException.Parse(HttpStatusCode.NotFound, "60",
            "Code: 60. DB::Exception: Unknown table expression identifier 'x'. (UNKNOWN_TABLE) (version 26.7.2.1)");
        Assert.Equal(60, e.Code);
        Assert.False(e.IsRetryable);
    }

    [Theory]
    [InlineData(242, true)]  // readonly: Keeper session lost
    [InlineData(252, true)]  // too many parts
    [InlineData(319, true)]  // unknown insert status under quorum
    [InlineData(999, true)]  // Keeper exception
    [InlineData(62, false)]  // syntax error
    [InlineData(53, false)]  // type mismatch
    [InlineData(27, false)]  // cannot parse input
    public void Classifies_retryable_codes(int code, bool retryable)
    {
        var e = ClickHouseServerException.Parse(HttpStatusCode.InternalServerError, null, $"Code: {code}, e.displayText() = DB::Exception: x");
        Assert.Equal(retryable, e.IsRetryable);
    }

    [Theory]
    [InlineData("Code: 341, e.displayText() = DB::Exception: Session expired (Session expired), e.what() = DB::Exception", true)]
    [InlineData("Code: 1000, e.displayText() = DB::Exception: Received from 127.0.0.1:9000. DB::Exception: Table is in readonly mode.", true)]
    [InlineData("Code: 49, e.displayText() = DB::Exception: Coordination::Exception: Connection loss, path: /clickhouse", true)]
    [InlineData("Code: 60, e.displayText() = DB::Exception: Table default.x doesn't exist.", false)]
    public void A_lost_keeper_is_recognised_by_its_text_whatever_the_code(string body, bool keeperLoss)
    {
        var e = ClickHouseServerException.Parse(HttpStatusCode.InternalServerError, null, body);
        Assert.Equal(keeperLoss, e.IsKeeperLoss);
        Assert.Equal(keeperLoss, e.IsRetryable);
    }

    [Fact]
    public void An_answer_without_a_code_is_retryable_only_for_server_errors()
    {
        Assert.True(ClickHouseServerException.Parse(HttpStatusCode.BadGateway, null, "<html>proxy</html>").IsRetryable);
        Assert.False(ClickHouseServerException.Parse(HttpStatusCode.Unauthorized, null, "denied").IsRetryable);
    }
}
