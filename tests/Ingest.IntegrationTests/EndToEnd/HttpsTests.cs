using System.Globalization;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;
using Ingest.IntegrationTests.Native;
using Ingest.LocalStack.ClickHouse;
using Ingest.LocalStack.Kafka;
using Ingest.LocalStack.Tls;
using Ingest.Pipeline;
using Ingest.Pipeline.ClickHouse.Http;

namespace Ingest.IntegrationTests.EndToEnd;

/// <summary>HTTPS against ClickHouse 18.16 with a certificate from a private CA (the node's own, see
/// <see cref="HttpsStack"/>): trusted through Ingest:ClickHouse:CaCertificateFile, refused without it.</summary>
public sealed class HttpsTests(HttpsStack fixture) : IClassFixture<HttpsStack>, IDisposable
{
    private readonly LocalStack.Stack _stack = fixture.Stack;
    private readonly X509Certificate2Collection _ca = LoadCa(fixture.Stack.Node("ch"));

    public void Dispose()
    {
        foreach (var c in _ca) c.Dispose();
    }

    private ClickHouseServer Node => _stack.Node("ch");

    [Fact]
    public async Task Https_with_the_ca_file_answers_a_select_and_takes_a_native_insert()
    {
        using var client = new ClickHouseHttpClient(Node.HttpsEndpoint!, caCertificates: _ca);
        Assert.Equal("1", await client.ScalarAsync("SELECT 1"));

        var c = new NativeCase("String", ["'a'", "'b'", "'c'"], ["\"a\"", "\"bé\"", "\"\""]);
        var table = $"default.https_{Guid.NewGuid():N}"[..30];
        await client.ExecuteAsync($"CREATE TABLE {table} ({NativeCases.Columns(c)}) ENGINE = Memory");
        await client.InsertAsync(table, "Native", new ByteArrayContent(NativeCases.Encode(c)));

        Assert.Equal("1\ta\n2\tbé\n3\t\n", await client.QueryAsync($"SELECT id, v FROM {table} ORDER BY id FORMAT TSV"));
    }

    [Fact]
    public async Task Without_the_ca_file_the_system_store_refuses_the_certificate()
    {
        using var client = new ClickHouseHttpClient(Node.HttpsEndpoint!);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.ScalarAsync("SELECT 1"));

        // "TLS handshake with 127.0.0.1:port failed: The remote certificate is invalid because of errors in the
        // certificate chain: PartialChain" (the platform's own message only says "see inner exception").
        Assert.Equal(HttpRequestError.SecureConnectionError, e.HttpRequestError);
        Assert.StartsWith($"TLS handshake with {Node.HttpsEndpoint!.Authority} failed: The remote certificate is invalid", e.Message, StringComparison.Ordinal);
        Assert.Contains("certificate chain", e.Message, StringComparison.Ordinal);
        Assert.IsType<AuthenticationException>(e.InnerException?.InnerException);
    }

    [Fact]
    public async Task Another_ca_is_refused_even_though_the_certificate_names_the_host()
    {
        using var other = TestCertificates.CreateCa("some other CA");
        using var client = new ClickHouseHttpClient(Node.HttpsEndpoint!, caCertificates: [other]);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.ScalarAsync("SELECT 1"));

        Assert.Equal(HttpRequestError.SecureConnectionError, e.HttpRequestError);
        Assert.Contains("failed: its certificate (CN=127.0.0.1, issued by CN=Ingest LocalStack CA for ch) does not chain to the configured CA", e.Message, StringComparison.Ordinal);
        Assert.IsType<AuthenticationException>(e.InnerException?.InnerException);
    }

    [Fact]
    public async Task The_host_name_is_still_checked_with_the_ca_file()
    {
        // The certificate names localhost: accepted. The same server as an IPv4-mapped IPv6 address (the connection
        // still reaches 127.0.0.1) is a name the certificate does not hold: refused although the CA is right.
        using (var byName = new ClickHouseHttpClient(new Uri($"https://localhost:{Node.HttpsPort}/"), caCertificates: _ca))
            Assert.Equal("1", await byName.ScalarAsync("SELECT 1"));
        using var mapped = new ClickHouseHttpClient(new Uri($"https://[::ffff:127.0.0.1]:{Node.HttpsPort}/"), caCertificates: _ca);

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => mapped.ScalarAsync("SELECT 1"));

        Assert.Equal(HttpRequestError.SecureConnectionError, e.HttpRequestError);
        Assert.Contains("failed: its certificate (CN=127.0.0.1) does not name the host of the endpoint", e.Message, StringComparison.Ordinal);
        Assert.IsType<AuthenticationException>(e.InnerException?.InnerException);
    }

    [Fact]
    public async Task The_pipeline_ingests_through_an_https_endpoint()
    {
        var topic = StackFixture.NewTopic("https");
        _stack.Kafka!.CreateTopic(topic, 2);
        var table = $"default.https_{Guid.NewGuid():N}"[..30];
        await Node.Client.ExecuteAsync($"CREATE TABLE {table} ({SampleEvents.TableColumns}, seq UInt64) ENGINE = MergeTree ORDER BY seq");
        using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = _stack.KafkaBootstrap, LingerMs = 5 }).Build())
        {
            for (var i = 0; i < 250; i++) producer.Produce(topic, new Message<Null, byte[]> { Value = SampleEvents.Message(i) });
            producer.Flush(TimeSpan.FromSeconds(30));
        }
        var options = new IngestOptions
        {
            Region = "a",
            Kafka = { BootstrapServers = _stack.KafkaBootstrap, Group = topic, Topics = [topic], Properties = { ["session.timeout.ms"] = "6000" } },
            ClickHouse = { Endpoints = [Node.HttpsEndpoint!.ToString()], CaCertificateFile = Node.CaCertificateFile, Table = table },
            Batching = { MaxAge = TimeSpan.FromMilliseconds(200) },
        };

        using var pipeline = new InProcessPipeline(options);
        var rows = await Poll.UntilAsync(() => CountAsync($"SELECT count() FROM {table}"), n => n >= 250, TimeSpan.FromSeconds(30));
        pipeline.Stop();

        Assert.Equal(250, rows);
        Assert.Equal(250, await CountAsync($"SELECT uniqExact(seq) FROM {table}"));
        Assert.Equal(0, pipeline.Metrics.InsertFailures);
    }

    private static X509Certificate2Collection LoadCa(ClickHouseServer node)
    {
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(node.CaCertificateFile!);
        return ca;
    }

    private async Task<long> CountAsync(string sql) =>
        long.Parse(await Node.Client.ScalarAsync(sql) ?? "-1", CultureInfo.InvariantCulture);
}
