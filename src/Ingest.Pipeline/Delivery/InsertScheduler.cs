using System.Collections.Concurrent;
using Ingest.Pipeline.Batching;

namespace Ingest.Pipeline.Delivery;

/// <summary>How an INSERT ended: acknowledged (<see cref="Error"/> null), or failed for good.</summary>
internal sealed record InsertOutcome(Route Route, List<PartitionBatch> Batches, Exception? Error);

/// <summary>Runs INSERTs (at most MaxConcurrentInserts at once) on the thread pool and hands their outcomes back to
/// the pipeline thread, which alone touches batch and checkpoint state. Every task it starts is kept until it has
/// finished, so the pooled buffers an INSERT reads are never returned while it still reads them.</summary>
internal sealed class InsertScheduler
{
    private readonly int _maxConcurrent;
    private readonly HashSet<Task> _tasks = [];
    private readonly ConcurrentQueue<InsertOutcome> _outcomes = new();

    public InsertScheduler(int maxConcurrent) => _maxConcurrent = maxConcurrent;

    /// <summary>INSERTs started whose outcome the pipeline has not taken yet.</summary>
    public int Running { get; private set; }

    public bool HasCapacity => Running < _maxConcurrent;

    /// <summary>Starts <paramref name="insert"/> for <paramref name="batches"/>; its outcome comes back through
    /// <see cref="TryTake"/>.</summary>
    public void Start(Route route, List<PartitionBatch> batches, Func<Task> insert)
    {
        Running++;
        _tasks.RemoveWhere(t => t.IsCompleted);
        _tasks.Add(Task.Run(async () =>
        {
            try
            {
                await insert().ConfigureAwait(false);
                _outcomes.Enqueue(new InsertOutcome(route, batches, null));
            }
            catch (Exception e)
            {
                _outcomes.Enqueue(new InsertOutcome(route, batches, e));
            }
        }));
    }

    public bool TryTake(out InsertOutcome outcome)
    {
        if (!_outcomes.TryDequeue(out outcome!)) return false;
        Running--;
        return true;
    }

    /// <summary>Waits for every INSERT started (each gives up soon once stopping); false if some still run after
    /// <paramref name="timeout"/>, and then their buffers must not be freed.</summary>
    public bool WaitAll(TimeSpan timeout)
    {
        try
        {
            return Task.WaitAll([.. _tasks], timeout);
        }
        catch (AggregateException)
        {
            // Outcomes, failures included, are reported through the queue; the tasks themselves do not fault.
            return true;
        }
    }
}
