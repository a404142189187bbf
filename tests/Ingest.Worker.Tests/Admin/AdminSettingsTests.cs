using Ingest.Worker.Admin;
using Microsoft.Extensions.Configuration;

namespace Ingest.Worker.Tests.Admin;

/// <summary>Start-up configuration of the admin API: what is refused (exit 2) and what happens without a token.</summary>
public sealed class AdminSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("admin-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Without_a_token_the_api_is_off_at_its_default_loopback_address()
    {
        var settings = Load([]);
        Assert.False(settings.Enabled);
        Assert.Equal(new Uri("http://127.0.0.1:8081/"), settings.Url);
        Assert.True(settings.IsLoopback);
    }

    [Fact]
    public void The_token_file_is_read_at_start_and_trimmed()
    {
        var file = Path.Combine(_dir, "token");
        File.WriteAllText(file, "  from-file\n");
        var settings = Load(new() { ["Ingest:Admin:TokenFile"] = file });
        Assert.True(settings.Token!.Matches("Bearer from-file"));
        Assert.False(settings.Token.Matches("Bearer   from-file\n"));
    }

    [Theory]
    [InlineData("Ingest:Admin:TokenFile", "<empty>", "Ingest:Admin:TokenFile: '<empty>' is empty")]
    [InlineData("Ingest:Admin:TokenFile", "<blank>", "Ingest:Admin:TokenFile: '<blank>' is empty")]
    [InlineData("Ingest:Admin:TokenFile", "<missing>", "Ingest:Admin:TokenFile: '<missing>' cannot be read")]
    [InlineData("Ingest:Admin:Token", "   ", "Ingest:Admin:Token is blank")]
    [InlineData("Ingest:Admin:Url", "127.0.0.1:8081", "Ingest:Admin:Url: '127.0.0.1:8081' is not an http(s) listen address")]
    [InlineData("Ingest:Admin:Url", "http://127.0.0.1:8081/admin", "is not an http(s) listen address")]
    [InlineData("Ingest:Admin:Url", "http://127.0.0.1:0", "needs a fixed port")]
    [InlineData("Ingest:Admin:Url", "http://0.0.0.0:8080", "port 8080 is also in Urls ('http://127.0.0.1:8080')")]
    public void Bad_settings_stop_the_worker_at_start_naming_the_key(string key, string value, string expected)
    {
        value = value.Replace("<empty>", Write("empty", ""), StringComparison.Ordinal)
            .Replace("<blank>", Write("blank", " \n\t"), StringComparison.Ordinal)
            .Replace("<missing>", Path.Combine(_dir, "missing"), StringComparison.Ordinal);
        expected = expected.Replace("<empty>", Path.Combine(_dir, "empty"), StringComparison.Ordinal)
            .Replace("<blank>", Path.Combine(_dir, "blank"), StringComparison.Ordinal)
            .Replace("<missing>", Path.Combine(_dir, "missing"), StringComparison.Ordinal);
        var settings = new Dictionary<string, string?> { ["urls"] = "http://127.0.0.1:8080", [key] = value };
        if (key != "Ingest:Admin:Token" && key != "Ingest:Admin:TokenFile") settings["Ingest:Admin:Token"] = "t";
        var e = Assert.Throws<InvalidOperationException>(() => Load(settings));
        Assert.StartsWith("Invalid configuration:\n  ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_misspelt_admin_key_is_refused_rather_than_leaving_the_api_off()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Load(new() { ["Ingest:Admin:Tokn"] = "t" }));
        Assert.Contains("Ingest:Admin:Tokn: unknown setting 'Tokn' (known here: Url, Token, TokenFile)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_admin_section_is_left_out_of_the_pipeline_options_check()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Ingest:Region"] = "a",
            ["Ingest:Admin:Url"] = "http://127.0.0.1:9000",
            ["Ingest:Administrator"] = "x",
        }).Build();
        var problem = Assert.Single(Ingest.Pipeline.OptionsCheck.Problems<Ingest.Pipeline.IngestOptions>(AdminOptions.Outside(configuration), "Ingest"));
        Assert.StartsWith("Ingest:Administrator: unknown setting 'Administrator'", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Token_and_token_file_together_are_refused()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Load(new() { ["Ingest:Admin:Token"] = "a", ["Ingest:Admin:TokenFile"] = Write("t", "b") }));
        Assert.Contains("Ingest:Admin:Token and Ingest:Admin:TokenFile are both set", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_ports_of_HTTP_PORTS_count_when_Urls_is_not_set()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Load(new() { ["http_ports"] = "8081", ["Ingest:Admin:Token"] = "t" }));
        Assert.Contains("port 8081 is also in Urls", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_loopback_address_is_allowed_and_known_as_such()
    {
        var settings = Load(new() { ["Ingest:Admin:Url"] = "http://0.0.0.0:9000", ["Ingest:Admin:Token"] = "t" });
        Assert.True(settings.Enabled);
        Assert.False(settings.IsLoopback);
        Assert.True(Load(new() { ["Ingest:Admin:Url"] = "http://localhost:9000" }).IsLoopback);
        Assert.True(Load(new() { ["Ingest:Admin:Url"] = "http://[::1]:9000" }).IsLoopback);
    }

    private string Write(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static AdminSettings Load(Dictionary<string, string?> settings) =>
        AdminSettings.Load(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
}
