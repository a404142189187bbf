using Ingest.Pipeline.ClickHouse;

namespace Ingest.Pipeline.Tests.ClickHouse;

public sealed class ClickHouseTextTests
{
    [Theory]
    [InlineData("plain")]
    [InlineData("tab\there")]
    [InlineData("line\nbreak")]
    [InlineData("back\\slash")]
    [InlineData("back\\tslash-t, not a tab")]
    public void Tsv_escaping_round_trips(string text) => Assert.Equal(text, ClickHouseText.UnescapeTsv(ClickHouseText.EscapeTsv(text)));

    [Fact]
    public void Unescaping_reads_an_escaped_backslash_before_t_as_a_backslash_and_a_t()
    {
        // What ClickHouse prints for the value `a\tb` (backslash, 't'), not a tab.
        Assert.Equal("a\\tb", ClickHouseText.UnescapeTsv("a\\\\tb"));
        Assert.Equal("it's", ClickHouseText.UnescapeTsv("it\\'s"));
    }

    [Fact]
    public void Quoting_escapes_quotes_and_backslashes_and_tables_split_at_the_first_dot()
    {
        Assert.Equal("'it\\'s a \\\\'", ClickHouseText.Quote("it's a \\"));
        Assert.Equal(("db", "events.v2"), ClickHouseText.SplitTable("db.events.v2"));
    }
}
