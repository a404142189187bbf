using Ingest.LocalStack;

namespace Ingest.IntegrationTests;

/// <summary>One real stack per test class (xunit class fixture); killed and deleted after the class.</summary>
public abstract class StackFixture(Topology topology, StackOptions? options = null) : IAsyncLifetime
{
    private Stack? _stack;

    public Stack Stack => _stack ?? throw new InvalidOperationException("stack not started");

    public async Task InitializeAsync() => _stack = await Stack.StartAsync(topology, options);

    public async Task DisposeAsync()
    {
        if (_stack is not null) await _stack.DisposeAsync();
    }

    /// <summary>A topic name no other test uses.</summary>
    public static string NewTopic(string prefix = "t") => $"{prefix}-{Guid.NewGuid():N}"[..20];
}

public sealed class SingleStack() : StackFixture(Topology.Single);

public sealed class IndependentStack() : StackFixture(Topology.Independent);

public sealed class TwoSubclusterStack() : StackFixture(Topology.TwoSubcluster);

/// <summary>Single, with node "ch" also serving HTTPS (its own CA: <see cref="LocalStack.ClickHouse.ClickHouseServer.CaCertificateFile"/>).</summary>
public sealed class HttpsStack() : StackFixture(Topology.Single, new StackOptions { Https = true });

internal static class Poll
{
    /// <summary>Re-evaluates <paramref name="probe"/> until <paramref name="done"/> holds or the deadline passes;
    /// returns the last value either way so the caller's assertion reports what was seen.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, int everyMs = 100)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await probe();
            if (done(value) || DateTime.UtcNow > deadline) return value;
            await Task.Delay(everyMs);
        }
    }
}
