using Polly;
using Polly.Retry;

namespace Ingest.Pipeline.ClickHouse.Http;

/// <summary>How many times a request is tried. <see cref="AttemptsOnceStopping"/>: once the worker stops, a request
/// whose outcome is unknown gets only this many attempts (its offsets stay uncommitted and are replayed).
/// <see cref="CancelDelays"/>: the stopping token also ends the wait between attempts (start-up reads), rather than
/// only limiting attempts (INSERTs, whose outcome must be settled if at all possible).</summary>
internal readonly record struct RetryLimits(int MaxAttempts, int AttemptsOnceStopping, bool CancelDelays)
{
    /// <summary>INSERTs and queries of a running pipeline: until acknowledged; 3 attempts once stopping.</summary>
    public static readonly RetryLimits UntilAcknowledged = new(int.MaxValue, 3, CancelDelays: false);

    /// <summary>Start-up reads: until they succeed or the worker stops.</summary>
    public static readonly RetryLimits UntilStopped = new(int.MaxValue, 0, CancelDelays: true);
}

/// <summary>The one backoff of every ClickHouse request: exponential from 100 ms to 5 s with decorrelated jitter
/// (Polly's), so the workers of a region that lost their server together do not come back in lockstep. Only the errors
/// <see cref="ClickHouseErrors.IsRetryable"/> names are retried.</summary>
internal static class RetryPolicy
{
    private sealed class Scope(RetryLimits limits, CancellationToken stopping, Action<Exception, int, TimeSpan>? onRetry)
    {
        public RetryLimits Limits { get; } = limits;
        public CancellationToken Stopping { get; } = stopping;
        public Action<Exception, int, TimeSpan>? OnRetry { get; } = onRetry;

        /// <summary>0 for the first try; the operation picks its endpoint by it.</summary>
        public int Attempt { get; set; }
    }

    private static readonly ResiliencePropertyKey<Scope?> ScopeKey = new("ingest.retry");

    private static readonly ResiliencePipeline Pipeline = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(5),
            ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Context.Properties.GetValue(ScopeKey, null)!, args.Outcome.Exception, args.AttemptNumber)),
            OnRetry = args =>
            {
                var scope = args.Context.Properties.GetValue(ScopeKey, null)!;
                scope.Attempt = args.AttemptNumber + 1;
                scope.OnRetry?.Invoke(args.Outcome.Exception!, args.AttemptNumber + 1, args.RetryDelay);
                return default;
            },
        })
        .Build();

    /// <summary>Runs <paramref name="operation"/> (given the attempt number, from 0) until it succeeds, retrying what is
    /// retryable within <paramref name="limits"/>; <paramref name="onRetry"/> hears each failure (exception, attempt
    /// from 1, delay). What is not retried is rethrown as it is.</summary>
    public static async Task ExecuteAsync(Func<int, Task> operation, RetryLimits limits, CancellationToken stopping,
        Action<Exception, int, TimeSpan>? onRetry = null)
    {
        var context = ResilienceContextPool.Shared.Get(limits.CancelDelays ? stopping : CancellationToken.None);
        var scope = new Scope(limits, stopping, onRetry);
        context.Properties.Set(ScopeKey, scope);
        try
        {
            await Pipeline.ExecuteAsync(static (ctx, state) => new ValueTask(state.Operation(state.Scope.Attempt)), context, (Operation: operation, Scope: scope))
                .ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static bool ShouldRetry(Scope scope, Exception? e, int attempt)
    {
        if (e is null || !ClickHouseErrors.IsRetryable(e)) return false;
        var tried = attempt + 1;
        if (tried >= scope.Limits.MaxAttempts) return false;
        return !scope.Stopping.IsCancellationRequested || tried < scope.Limits.AttemptsOnceStopping;
    }
}
