using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ingest.Pipeline.Control;

/// <summary>The admin API's wire format, written by the worker and read by the <c>ingest</c> CLI from the same
/// generated metadata: camelCase, enums as strings, no reflection.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(PipelineStatus))]
[JsonSerializable(typeof(PauseResult))]
[JsonSerializable(typeof(FlushResult))]
[JsonSerializable(typeof(PauseRequest))]
[JsonSerializable(typeof(FlushRequest))]
[JsonSerializable(typeof(ControlProblem))]
[JsonSerializable(typeof(BackupPointRequest))]
[JsonSerializable(typeof(BackupPointReport))]
[JsonSerializable(typeof(BackupPointList))]
[JsonSerializable(typeof(OwnershipRequest))]
[JsonSerializable(typeof(OwnershipReport))]
public sealed partial class ControlJsonContext : JsonSerializerContext;
