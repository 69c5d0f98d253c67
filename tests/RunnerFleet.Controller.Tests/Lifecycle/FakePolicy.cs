using System.Collections.Concurrent;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Tests.Lifecycle;

/// <summary>A policy that allows every job and tells, per run, whether it came from a fork (default: no).</summary>
internal sealed class FakePolicy : IJobPolicy
{
    /// <summary>What <see cref="CameFromForkAsync"/> answers for a run (true, or null: cannot tell); absent runs did not.</summary>
    public ConcurrentDictionary<long, bool?> Forks { get; } = new();

    public Task<JobVerdict> DecideAsync(PoolDefinition pool, JobRecord job, CancellationToken ct) => Task.FromResult(JobVerdict.Allowed);

    public Task ContainAsync(JobRecord job, CancellationToken ct) => Task.CompletedTask;

    public Task<bool?> CameFromForkAsync(JobRecord job, CancellationToken ct) => Task.FromResult(Forks.TryGetValue(job.RunId, out var fork) ? fork : false);
}
