using System.Collections.Concurrent;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Lifecycle;

/// <summary>
/// A channel that registers runners with a JIT config and remembers what it was asked. Tests say which runners
/// GitHub reports busy (deregistering keeps them) and which it no longer knows (ephemeral, after their job).
/// </summary>
internal sealed class FakeChannel : IRunnerChannel
{
    public const string KindName = "fake";
    public const string JitConfig = "jit-secret";

    private long _lastId = 100;

    public string Kind => KindName;

    /// <summary>GitHub runner ids by runner name.</summary>
    public ConcurrentDictionary<string, long> Registered { get; } = new(StringComparer.Ordinal);

    /// <summary>Every runner the lifecycle asked to deregister, kept or not.</summary>
    public ConcurrentQueue<string> DeregisterCalls { get; } = new();

    /// <summary>Runners whose GitHub identity was removed.</summary>
    public ConcurrentQueue<string> Deregistered { get; } = new();

    public HashSet<string> Busy { get; } = new(StringComparer.Ordinal);

    public HashSet<string> GoneFromGitHub { get; } = new(StringComparer.Ordinal);

    public Task<RunnerRegistration> RegisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct)
    {
        var id = Registered[runner.Name] = Interlocked.Increment(ref _lastId);
        return Task.FromResult(new RunnerRegistration { GitHubRunnerId = id, JitConfig = JitConfig });
    }

    public Task<bool> DeregisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct)
    {
        DeregisterCalls.Enqueue(runner.Name);
        if (Busy.Contains(runner.Name))
        {
            return Task.FromResult(false);
        }

        Deregistered.Enqueue(runner.Name);
        return Task.FromResult(true);
    }

    public Task<bool?> IsDeregisteredAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct) =>
        Task.FromResult<bool?>(GoneFromGitHub.Contains(runner.Name));

    public bool Claims(JobRecord job) => false;
}

/// <summary>Counts the push signals instead of waking loops.</summary>
internal sealed class FakeSignals : IFleetSignals
{
    private int _demandChanged;

    public int DemandChangedCount => Volatile.Read(ref _demandChanged);

    public ConcurrentQueue<string> Exited { get; } = new();

    public void DemandChanged() => Interlocked.Increment(ref _demandChanged);

    public void RunnerExited(string runnerName) => Exited.Enqueue(runnerName);
}
