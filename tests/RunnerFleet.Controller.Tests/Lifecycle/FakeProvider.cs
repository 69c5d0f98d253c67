using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Lifecycle;

/// <summary>The fake provider's and fake channel's settings of a pool: none.</summary>
internal sealed class FakeSettings
{
}

/// <summary>
/// An in-memory provider: resources by runner name, each found by its id or (like a container) its name,
/// created idempotently by name. Tests make a create fail, a resource exit, or place resources themselves.
/// </summary>
internal sealed class FakeProvider : IRunnerProvider, IRebuildingProvider
{
    public const string KindName = "fake";
    public const string Endpoint = "fake-host";

    private readonly ConcurrentDictionary<string, ProvisionedRunner> _resources = new(StringComparer.Ordinal);
    private (ProviderException Error, bool LeaveBehind)? _failNext;

    public string Kind => KindName;

    /// <summary>Whether finished runners' resources may be rebuilt (within the first 50 minutes of their paid hour, as Hetzner's).</summary>
    public bool Rebuildable { get; set; }

    /// <summary>The next rebuild fails.</summary>
    public bool FailNextRebuild { get; set; }

    /// <summary>What resources made from now on cost an hour, and when their billing began.</summary>
    public decimal? HourlyPrice { get; set; }

    public DateTimeOffset? BilledAt { get; set; }

    /// <summary>Every rebuild: the resource and the runner it was rebuilt for.</summary>
    public ConcurrentQueue<(string ResourceId, string RunnerName)> Rebuilds { get; } = new();

    /// <summary>The launches of every create that succeeded.</summary>
    public ConcurrentQueue<RunnerLaunch> Launches { get; } = new();

    /// <summary>The next create fails; with <paramref name="leaveBehind"/> after making a resource it never started.</summary>
    public void FailNextCreate(ProviderException error, bool leaveBehind = false) => _failNext = (error, leaveBehind);

    /// <summary>Places a resource, as a controller that died after creating it leaves one.</summary>
    public void Add(string runnerName, ProvisionedStatus status) => _resources[runnerName] = Resource(runnerName, status);

    /// <summary>The runner's process ends; its resource stays, exited.</summary>
    public void Exit(string runnerName, int exitCode) =>
        _resources[runnerName] = _resources[runnerName] with { Status = ProvisionedStatus.Exited, ExitCode = exitCode };

    public ProvisionedRunner? Find(string runnerName) => _resources.GetValueOrDefault(runnerName);

    /// <summary>Hides a resource from lists (as a shared list read before it was made does); it still exists.</summary>
    public void Hide(string runnerName) => _hidden[runnerName] = true;

    private readonly ConcurrentDictionary<string, bool> _hidden = new(StringComparer.Ordinal);

    /// <summary>When the lists say they were read (null: live).</summary>
    public DateTimeOffset? ListedAt { get; set; }

    public Task<ProvisionedRunner> CreateAsync(RunnerLaunch launch, CancellationToken ct)
    {
        if (_failNext is { } failure)
        {
            _failNext = null;
            if (failure.LeaveBehind)
            {
                Add(launch.Name, ProvisionedStatus.Created);
            }

            return Task.FromException<ProvisionedRunner>(failure.Error);
        }

        Launches.Enqueue(launch);
        return Task.FromResult(_resources.GetOrAdd(launch.Name, name => Resource(name, ProvisionedStatus.Running)));
    }

    public Task DestroyAsync(ProvisionedRunner runner, CancellationToken ct)
    {
        foreach (var found in _resources.Values.Where(r => r.ResourceId == runner.ResourceId || r.RunnerName == runner.ResourceId))
        {
            _resources.TryRemove(found.RunnerName, out _);
        }

        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<ProvisionedRunner> ListAsync([EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var resource in _resources.Values.Where(r => !_hidden.ContainsKey(r.RunnerName)))
        {
            await Task.Yield();
            ct.ThrowIfCancellationRequested();
            yield return resource;
        }
    }

    public bool MayRebuild(PoolDefinition pool, DateTimeOffset billedSince, DateTimeOffset now) =>
        Rebuildable && now >= billedSince && TimeSpan.FromTicks((now - billedSince).Ticks % TimeSpan.TicksPerHour) < TimeSpan.FromMinutes(50);

    public bool RebuildServesWholePool(PoolDefinition pool) => false;

    public Task<ProvisionedRunner> RebuildAsync(ProvisionedRunner resource, RunnerLaunch launch, CancellationToken ct)
    {
        if (FailNextRebuild)
        {
            FailNextRebuild = false;
            return Task.FromException<ProvisionedRunner>(new ProviderException("rebuild_failed", "the rebuild action ended in error"));
        }

        var old = _resources.Values.Single(r => r.ResourceId == resource.ResourceId);
        _resources.TryRemove(old.RunnerName, out _);
        Launches.Enqueue(launch);
        Rebuilds.Enqueue((resource.ResourceId, launch.Name));
        return Task.FromResult(_resources[launch.Name] = old with { RunnerName = launch.Name, Status = ProvisionedStatus.Starting, ExitCode = null });
    }

    private ProvisionedRunner Resource(string runnerName, ProvisionedStatus status) =>
        new() { ResourceId = $"res-{runnerName}", RunnerName = runnerName, Endpoint = Endpoint, Status = status, HourlyPrice = HourlyPrice, BilledSince = BilledAt };
}
