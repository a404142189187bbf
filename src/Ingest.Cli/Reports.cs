using System.Text.Json;
using System.Text.Json.Serialization;
using Ingest.Pipeline.Control;

namespace Ingest.Cli;

internal enum WorkerOutcome
{
    [JsonStringEnumMemberName("ok")] Ok,
    [JsonStringEnumMemberName("error")] Error,
    [JsonStringEnumMemberName("unreachable")] Unreachable,
    [JsonStringEnumMemberName("unauthorized")] Unauthorized,
}

/// <summary>One worker's answer to one verb: the document it sent, or why there is none. <see cref="Error"/> reads after
/// "worker &lt;url&gt; " ("unreachable: connection refused").</summary>
internal sealed record WorkerReport<T>(string Worker, WorkerOutcome Outcome, int? HttpStatus, string? Error, T? Answer)
    where T : class
{
    [JsonIgnore]
    public int ExitCode => Outcome switch
    {
        WorkerOutcome.Ok => ExitCodes.Ok,
        WorkerOutcome.Error => ExitCodes.WorkerError,
        WorkerOutcome.Unreachable => ExitCodes.Unreachable,
        _ => ExitCodes.AuthRefused,
    };

    [JsonIgnore]
    public string ErrorLine => $"worker {Worker} {Error}";
}

/// <summary>The <c>--json</c> document: one per run, every worker in the order given.</summary>
internal sealed record CliReport<T>(string Command, int ExitCode, IReadOnlyList<WorkerReport<T>> Workers)
    where T : class
{
    public static CliReport<T> Of(string command, IReadOnlyList<WorkerReport<T>> workers) =>
        new(command, workers.Max(w => w.ExitCode), workers);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, WriteIndented = true)]
[JsonSerializable(typeof(CliReport<PipelineStatus>))]
[JsonSerializable(typeof(CliReport<PauseResult>))]
[JsonSerializable(typeof(CliReport<FlushResult>))]
[JsonSerializable(typeof(CliReport<BackupPointReport>))]
[JsonSerializable(typeof(CliReport<BackupPointList>))]
[JsonSerializable(typeof(CliReport<OwnershipReport>))]
[JsonSerializable(typeof(Ingest.Pipeline.Regions.ReconcileReport))]
[JsonSerializable(typeof(RestoreReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
