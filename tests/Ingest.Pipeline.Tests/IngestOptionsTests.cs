using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ingest.Pipeline.Kafka;

namespace Ingest.Pipeline.Tests;

public sealed class IngestOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ingest-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IngestOptions Valid() => new()
    {
        Region = "a",
        Kafka = { BootstrapServers = "127.0.0.1:9092", Group = "events", Topics = ["t"] },
        ClickHouse = { Endpoints = ["http://127.0.0.1:8123/"], Table = "db.events" },
    };

    [Fact]
    public void The_consumer_group_is_per_region()
    {
        var options = Valid();
        options.Region = "eu-west";
        Assert.Equal("events.eu-west", ConsumerSettings.GroupId(options));
        var config = ConsumerSettings.Build(options);
        Assert.Equal("events.eu-west", config.GroupId);
        Assert.False(config.EnableAutoCommit);
        Assert.False(config.EnableAutoOffsetStore);
    }

    [Fact]
    public void Static_membership_takes_the_instance_id_with_the_host_name_filled_in()
    {
        var options = Valid();
        Assert.Null(ConsumerSettings.Build(options).GroupInstanceId);
        options.Kafka.InstanceId = "ingest-{host}";
        Assert.Equal($"ingest-{Environment.MachineName}", ConsumerSettings.Build(options).GroupInstanceId);
        options.Kafka.InstanceId = "worker-3";
        Assert.Equal("worker-3", ConsumerSettings.Build(options).GroupInstanceId);
    }

    [Fact]
    public void Extra_librdkafka_properties_pass_through()
    {
        var options = Valid();
        options.Kafka.Properties["security.protocol"] = "SASL_SSL";
        Assert.Equal("SASL_SSL", ConsumerSettings.Build(options).Get("security.protocol"));
    }

    [Fact]
    public void A_valid_configuration_passes() => Valid().Validate();

    [Fact]
    public void Every_problem_is_named_at_once()
    {
        var options = new IngestOptions { ClickHouse = { Endpoints = ["ftp://x"], Table = "events" } };
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Ingest:Region is required", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Kafka:BootstrapServers is required", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Kafka:Topics", e.Message, StringComparison.Ordinal);
        Assert.Contains("'ftp://x' is not an http(s) URL", e.Message, StringComparison.Ordinal);
        Assert.Contains("must be 'database.table'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_schema_refresh_interval_is_refused()
    {
        var options = Valid();
        options.ClickHouse.SchemaRefreshInterval = TimeSpan.FromSeconds(-1);
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains("Ingest:ClickHouse:SchemaRefreshInterval must be >= 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_certificate_file_with_an_https_endpoint_passes_and_loads()
    {
        var options = Valid();
        options.ClickHouse.Endpoints = ["http://127.0.0.1:8123/", "https://ch.example:8443/"];
        options.ClickHouse.CaCertificateFile = WriteFile("ca.pem", CaPem("one") + CaPem("two"));
        options.Validate();
        var loaded = options.ClickHouse.LoadCaCertificates();
        Assert.NotNull(loaded);
        Assert.Equal(["CN=one", "CN=two"], loaded.Select(c => c.Subject));
    }

    [Fact]
    public void An_empty_ca_certificate_file_setting_means_the_system_store()
    {
        var options = Valid();
        options.ClickHouse.CaCertificateFile = "";
        options.Validate();
        Assert.Null(options.ClickHouse.LoadCaCertificates());
    }

    [Fact]
    public void A_missing_ca_certificate_file_is_named_with_its_path()
    {
        var options = HttpsOptions(Path.Combine(_dir, "nope.pem"));
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains($"Ingest:ClickHouse:CaCertificateFile: '{Path.Combine(_dir, "nope.pem")}' does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_certificate_file_without_a_pem_certificate_is_refused()
    {
        using var key = ECDsa.Create();
        var path = WriteFile("key.pem", key.ExportPkcs8PrivateKeyPem());
        var e = Assert.Throws<InvalidOperationException>(HttpsOptions(path).Validate);
        Assert.Contains($"Ingest:ClickHouse:CaCertificateFile: '{path}' holds no PEM certificate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_certificate_file_with_a_broken_certificate_is_refused()
    {
        var path = WriteFile("broken.pem", "-----BEGIN CERTIFICATE-----\nTUlJQm9ndXM=\n-----END CERTIFICATE-----\n");
        var e = Assert.Throws<InvalidOperationException>(HttpsOptions(path).Validate);
        Assert.Contains($"Ingest:ClickHouse:CaCertificateFile: '{path}' holds a PEM certificate that does not parse", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_ca_certificate_file_with_only_http_endpoints_is_refused()
    {
        var options = Valid();
        var path = WriteFile("ca.pem", CaPem("one"));
        options.ClickHouse.CaCertificateFile = path;
        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.Contains($"Ingest:ClickHouse:CaCertificateFile is set ('{path}') but no endpoint in Ingest:ClickHouse:Endpoints is https", e.Message, StringComparison.Ordinal);
    }

    private IngestOptions HttpsOptions(string caFile)
    {
        var options = Valid();
        options.ClickHouse.Endpoints = ["https://127.0.0.1:8443/"];
        options.ClickHouse.CaCertificateFile = caFile;
        return options;
    }

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string CaPem(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return ca.ExportCertificatePem() + "\n";
    }
}
