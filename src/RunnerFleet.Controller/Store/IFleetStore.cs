using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Store;

/// <summary>
/// The fleet's state: runner records, jobs seen, and an append-only event log of transitions. Every
/// transition is written before the action that follows it, so a crash leaves a record to finish.
/// </summary>
internal interface IFleetStore
{
    Task InitializeAsync(CancellationToken ct);

    Task InsertRunnerAsync(RunnerRecord runner, CancellationToken ct);

    /// <summary>
    /// Writes <paramref name="updated"/> if the stored state is still <paramref name="expected"/>, and logs
    /// the transition. False when another writer got there first.
    /// </summary>
    Task<bool> TransitionAsync(RunnerRecord updated, RunnerState expected, string? detail, CancellationToken ct);

    /// <summary>Updates fields that are not the state (ids, timestamps, cost).</summary>
    Task UpdateRunnerAsync(RunnerRecord runner, CancellationToken ct);

    Task<RunnerRecord?> GetRunnerAsync(string id, CancellationToken ct);

    Task<RunnerRecord?> FindRunnerByNameAsync(string name, CancellationToken ct);

    /// <summary>Runners not in a final state.</summary>
    Task<IReadOnlyList<RunnerRecord>> ListActiveRunnersAsync(CancellationToken ct);

    /// <summary>Runner records of any state written at or after <paramref name="since"/> (by their <c>updated_at</c>).</summary>
    Task<IReadOnlyList<RunnerRecord>> ListRunnersChangedSinceAsync(DateTimeOffset since, CancellationToken ct);

    Task<IReadOnlyList<RunnerRecord>> ListRunnersAsync(int limit, CancellationToken ct);

    /// <summary>Runners that finished a job since <paramref name="since"/> whose job id is not known yet.</summary>
    Task<IReadOnlyList<RunnerRecord>> ListUnattributedSinceAsync(DateTimeOffset since, CancellationToken ct);

    /// <summary>Runners gone (their job done, their resources removed) since <paramref name="since"/>.</summary>
    Task<IReadOnlyList<RunnerRecord>> ListGoneSinceAsync(DateTimeOffset since, CancellationToken ct);

    /// <summary>Jobs run by each pool's runners requested since <paramref name="since"/> (runners that took one).</summary>
    Task<IReadOnlyDictionary<string, int>> JobsByPoolAsync(DateTimeOffset since, CancellationToken ct);

    /// <summary>Records a webhook delivery id; false when it was seen before (a replay).</summary>
    Task<bool> TryRecordDeliveryAsync(string deliveryId, CancellationToken ct);

    /// <summary>Forgets a delivery id whose handling failed, so GitHub's redelivery of it is handled, not taken for a replay.</summary>
    Task ForgetDeliveryAsync(string deliveryId, CancellationToken ct);

    /// <summary>Money spent per pool on runners requested since <paramref name="since"/>.</summary>
    Task<IReadOnlyDictionary<string, decimal>> CostByPoolAsync(DateTimeOffset since, CancellationToken ct);

    /// <summary>Inserts or advances a job; a status never moves back. Returns what changed.</summary>
    Task<JobChange> UpsertJobAsync(JobRecord job, CancellationToken ct);

    Task<IReadOnlyList<JobRecord>> ListJobsAsync(JobStatus? status, int limit, CancellationToken ct);

    /// <summary>The job a runner ran, as a job source reported it (null when none did yet).</summary>
    Task<JobRecord?> FindJobByRunnerAsync(string runnerName, CancellationToken ct);

    Task<IReadOnlyList<RunnerEvent>> ListEventsAsync(string runnerId, CancellationToken ct);

    /// <summary>Records that controller <paramref name="nodeId"/> is alive now.</summary>
    Task HeartbeatAsync(string nodeId, CancellationToken ct);

    /// <summary>Controllers that checked in since <paramref name="seenSince"/>.</summary>
    Task<IReadOnlySet<string>> ListLiveNodesAsync(DateTimeOffset seenSince, CancellationToken ct);

    /// <summary>Drains a pool (no new runners; busy ones finish) or resumes it. Shared by every controller and kept across restarts.</summary>
    Task SetPoolDrainedAsync(string pool, bool drained, CancellationToken ct);

    Task<IReadOnlySet<string>> ListDrainedPoolsAsync(CancellationToken ct);

    /// <summary>Applies a scale set's job event (<see cref="ScaleSetJob.Apply"/>); returns the job as stored when it changed, else null.</summary>
    Task<ScaleSetJob?> ApplyScaleSetJobAsync(ScaleSetJob seen, CancellationToken ct);

    Task<IReadOnlyList<ScaleSetJob>> ListScaleSetJobsAsync(int limit, CancellationToken ct);

    /// <summary>Records what a channel wants of a pool now (shared by every controller: the planner may run on another).</summary>
    Task SetPoolTargetAsync(PoolTarget target, CancellationToken ct);

    Task<IReadOnlyDictionary<string, PoolTarget>> ListPoolTargetsAsync(CancellationToken ct);

    /// <summary>
    /// Deletes what is final and older than <paramref name="before"/>: Gone and Failed runners (and their events),
    /// completed jobs and scale-set jobs. Live records are never touched. Returns how many rows went.
    /// </summary>
    Task<int> PruneAsync(DateTimeOffset before, CancellationToken ct);
}
