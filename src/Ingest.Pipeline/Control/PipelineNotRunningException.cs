namespace Ingest.Pipeline.Control;

/// <summary>A command reached a pipeline that is not running (starting, stopped, failed): nothing was done.</summary>
public sealed class PipelineNotRunningException(PipelineState state)
    : InvalidOperationException($"The pipeline is {state.ToString().ToLowerInvariant()}: the command was not applied")
{
    public PipelineState State { get; } = state;
}
