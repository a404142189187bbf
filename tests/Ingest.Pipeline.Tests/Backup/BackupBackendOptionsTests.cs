using Ingest.Pipeline.Backup;

namespace Ingest.Pipeline.Tests.Backup;

/// <summary>Ingest:Backup validated per backend, and <see cref="BackupBackends.Create"/> building what it names.</summary>
public sealed class BackupBackendOptionsTests
{
    private static IngestOptions Options(Action<BackupOptions> configure)
    {
        var options = new IngestOptions
        {
            Region = "a",
            Kafka = { BootstrapServers = "127.0.0.1:9092", Group = "events", Topics = ["t"] },
            ClickHouse = { Endpoints = ["http://127.0.0.1:8123/", "http://127.0.0.1:8124/"], Table = "db.events" },
        };
        configure(options.Backup);
        return options;
    }

    private static List<string> Errors(Action<BackupOptions> configure)
    {
        var errors = new List<string>();
        Options(configure).Backup.Validate(errors);
        return errors;
    }

    [Fact]
    public void No_backend_needs_no_backend_keys() => Assert.Empty(Errors(_ => { }));

    [Fact]
    public void Freeze_requires_the_data_path_and_an_http_endpoint_when_one_is_given()
    {
        var missing = Assert.Single(Errors(b => b.Backend = "freeze"));
        Assert.StartsWith("Ingest:Backup:Freeze:DataPath is required", missing);

        var endpoint = Assert.Single(Errors(b => (b.Backend, b.Freeze.DataPath, b.Freeze.Endpoint) = ("freeze", "/var/lib/clickhouse", "127.0.0.1:8123")));
        Assert.StartsWith("Ingest:Backup:Freeze:Endpoint must be an http(s) URL", endpoint);
        Assert.Contains("'127.0.0.1:8123'", endpoint);

        Assert.Empty(Errors(b => (b.Backend, b.Freeze.DataPath) = ("freeze", "/var/lib/clickhouse")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:7171")]
    [InlineData("ftp://127.0.0.1:7171/")]
    public void Clickhouse_backup_requires_an_http_url(string url)
    {
        var error = Assert.Single(Errors(b => (b.Backend, b.ClickHouseBackup.Url) = ("clickhouse-backup", url)));
        Assert.StartsWith("Ingest:Backup:ClickHouseBackup:Url must be an http(s) URL", error);
        Assert.Contains($"got '{url}'", error);
    }

    [Fact]
    public void Command_requires_a_path_and_sql_a_destination_with_the_name()
    {
        Assert.StartsWith("Ingest:Backup:Command:Path is required", Assert.Single(Errors(b => b.Backend = "command")));
        var sql = Assert.Single(Errors(b => (b.Backend, b.Sql.Destination) = ("sql", "Disk('backups', 'fixed')")));
        Assert.StartsWith("Ingest:Backup:Sql:Destination must contain {name}", sql);
        Assert.Empty(Errors(b => b.Backend = "sql"));
    }

    [Fact]
    public void The_whole_configuration_fails_naming_the_backends_key()
    {
        var options = Options(b => b.Backend = "command");
        var e = Assert.ThrowsAny<Exception>(options.Validate);
        Assert.Contains("Ingest:Backup:Command:Path", e.Message);
    }

    [Fact]
    public void Create_builds_the_named_backend()
    {
        using var freeze = Assert.IsType<FreezeBackupBackend>(BackupBackends.Create(Options(b => (b.Backend, b.Freeze.DataPath) = ("freeze", "/var/lib/clickhouse"))));
        Assert.Equal("freeze", freeze.Name);
        Assert.Equal("/var/lib/clickhouse", freeze.DataPath);

        var sql = Assert.IsType<SqlBackupBackend>(BackupBackends.Create(Options(b => (b.Backend, b.Sql.Destination) = ("sql", "File('/b/{name}')"))));
        Assert.Equal("File('/b/bp-1')", sql.DestinationOf("bp-1"));

        using var chb = Assert.IsType<ClickHouseBackupBackend>(BackupBackends.Create(Options(b => (b.Backend, b.ClickHouseBackup.Url) = ("clickhouse-backup", "http://127.0.0.1:7171"))));
        Assert.Equal("clickhouse-backup", chb.Name);

        var command = Assert.IsType<CommandBackupBackend>(BackupBackends.Create(Options(b => (b.Backend, b.Command.Path) = ("command", "/usr/local/bin/backup"))));
        Assert.Equal("/usr/local/bin/backup", command.Path);

        var none = Assert.Throws<InvalidOperationException>(() => BackupBackends.Create(Options(_ => { })));
        Assert.Contains("Ingest:Backup:Backend is not set", none.Message);
    }
}
