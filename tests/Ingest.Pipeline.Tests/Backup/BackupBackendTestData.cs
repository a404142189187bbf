using Ingest.Pipeline.Backup;

namespace Ingest.Pipeline.Tests.Backup;

internal static class BackupBackendTestData
{
    public static BackupRequest Request(string name, params string[] tables) => new(name, tables, new BackupPoint(
        name, "eu", "events.eu", "started", "test", DateTimeOffset.UnixEpoch, null, 0, ["w1"],
        [new BackupPointPosition("events", 0, "db.events", 1200), new BackupPointPosition("events", 1, "db.events", 7)]));
}
