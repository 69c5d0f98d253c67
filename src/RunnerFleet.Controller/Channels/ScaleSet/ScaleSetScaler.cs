using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>
/// What a scale-set pool does with what its listener hears: the policy half of the listener, as
/// actions/scaleset splits <c>listener/listener.go</c> (protocol) from its 3-method <c>Scaler</c> (desired
/// runner count, job started, job completed). The listener knows nothing of the store or the planner.
/// <para>
/// Demand comes from the scale set's statistics only, never from counting messages (scaleset README,
/// "Autoscaling"; a body holds at most 50 messages and a backlog is truncated): the pool's target is
/// <c>min(MinIdle + totalAssignedJobs, MaxRunners)</c>, stored for the planner (which may run on another
/// controller). Job events only track runners: started → busy, completed → finished. Any idle runner of the
/// set may take any assigned job, so no runner is bound to a job.
/// </para>
/// </summary>
internal sealed partial class ScaleSetScaler(IFleetStore store, RunnerTracker tracker, IFleetSignals signals, FleetTelemetry telemetry, TimeProvider time, ILogger<ScaleSetScaler> logger)
{
    private readonly Dictionary<string, int> _assigned = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _gate = new();

    /// <summary>A message's job events: recorded by job id; started and completed ones move their runner.</summary>
    public async Task HandleJobsAsync(PoolDefinition pool, IReadOnlyList<ScaleSetJobEvent> events, CancellationToken ct)
    {
        foreach (var e in events)
        {
            if (string.IsNullOrEmpty(e.JobId) || ToState(e.MessageType) is not { } state)
            {
                // Not a job event we know (a newer message type, or one without its job): nothing to track.
                LogSkipped(logger, pool.Name, e.MessageType ?? "(none)");
                continue;
            }

            var runner = string.IsNullOrEmpty(e.RunnerName) ? null : e.RunnerName;
            var seen = new ScaleSetJob
            {
                JobId = e.JobId,
                Pool = pool.Name,
                Repository = $"{e.OwnerName}/{e.RepositoryName}",
                Name = e.JobDisplayName,
                State = state,
                RunnerName = runner,
                Result = state == ScaleSetJobState.Completed ? e.Result ?? "failed" : null,
                QueuedAt = e.QueueTime,
                StartedAt = state >= ScaleSetJobState.Started ? e.RunnerAssignTime ?? time.GetUtcNow() : null,
                CompletedAt = state == ScaleSetJobState.Completed ? e.FinishTime ?? time.GetUtcNow() : null,
            };
            var stored = await store.ApplyScaleSetJobAsync(seen, ct).ConfigureAwait(false);
            if (stored is { State: ScaleSetJobState.Assigned, Assignments: > 1 })
            {
                LogReassigned(logger, pool.Name, stored.JobId, stored.Assignments);
            }

            if (runner is not null && state >= ScaleSetJobState.Started)
            {
                await tracker.OnRunnerJobAsync(runner, null, state == ScaleSetJobState.Started ? JobStatus.InProgress : JobStatus.Completed,
                    seen.StartedAt, seen.CompletedAt, seen.QueuedAt, seen.Result, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The pool's desired runner count from the scale set's statistics: <c>min(MinIdle + totalAssignedJobs, MaxRunners)</c>.
    /// Stored for the planner, with when the statistics came (<paramref name="receivedAt"/>: an empty poll answer repeats
    /// older statistics, and the planner counts runners that finished after them); more jobs than before wakes it at once.
    /// </summary>
    public async Task<int> HandleDesiredRunnerCountAsync(PoolDefinition pool, ScaleSetStatistics statistics, DateTimeOffset receivedAt, CancellationToken ct)
    {
        var assigned = Math.Max(0, statistics.TotalAssignedJobs);
        var desired = Math.Min(pool.MinIdle + assigned, pool.MaxRunners);
        telemetry.ScaleSetDesired(pool.Name, desired);
        int before;
        lock (_gate)
        {
            before = _assigned.GetValueOrDefault(pool.Name, -1);
            _assigned[pool.Name] = assigned;
        }

        await store.SetPoolTargetAsync(new PoolTarget(pool.Name, assigned, desired, receivedAt), ct).ConfigureAwait(false);
        if (assigned > before)
        {
            signals.DemandChanged();
        }

        return desired;
    }

    private static ScaleSetJobState? ToState(string? messageType) => messageType switch
    {
        "JobAvailable" => ScaleSetJobState.Available,
        "JobAssigned" => ScaleSetJobState.Assigned,
        "JobStarted" => ScaleSetJobState.Started,
        "JobCompleted" => ScaleSetJobState.Completed,
        _ => null,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Pool {Pool}: scale set job {JobId} assigned again (assignment {Assignments}): no runner took it in time")]
    private static partial void LogReassigned(ILogger logger, string pool, string jobId, int assignments);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Pool {Pool}: scale set message of type {MessageType} skipped")]
    private static partial void LogSkipped(ILogger logger, string pool, string messageType);
}
