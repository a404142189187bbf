using System.Collections.Concurrent;

namespace Ingest.Pipeline.Control;

/// <summary>Commands from other threads, run on the pipeline thread between two polls of the consumer: whatever
/// changes pipeline state runs there, so no lock guards it. A command completes its task itself, at once or (a flush)
/// on a later turn of the loop.</summary>
internal sealed class CommandInbox
{
    private readonly ConcurrentQueue<(Action Run, Action<Exception> Fail)> _queue = new();
    private volatile object? _closed;

    /// <summary>Queues <paramref name="command"/>; the task ends when the command completes it, when
    /// <paramref name="ct"/> fires, or with <see cref="PipelineNotRunningException"/> if the pipeline stops first.</summary>
    public Task<T> Post<T>(Action<TaskCompletionSource<T>> command, CancellationToken ct)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Enqueue((() =>
        {
            try
            {
                command(done);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        }, e => done.TrySetException(e)));
        // Closed meanwhile: nobody will drain it; refuse it (and anything else still queued).
        if (_closed is PipelineState state) Refuse(state);
        return done.Task.WaitAsync(ct);
    }

    /// <summary>Runs the queued commands (pipeline thread).</summary>
    public void Drain()
    {
        while (_queue.TryDequeue(out var command)) command.Run();
    }

    /// <summary>No command runs from now on: queued and later ones fail with <see cref="PipelineNotRunningException"/>.</summary>
    public void Close(PipelineState state)
    {
        _closed = state;
        Refuse(state);
    }

    private void Refuse(PipelineState state)
    {
        while (_queue.TryDequeue(out var command)) command.Fail(new PipelineNotRunningException(state));
    }
}
