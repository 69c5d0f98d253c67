using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>
/// What a scale-set pool does with what its listener hears: the policy half of the listener, as
/// actions/scaleset splits <c>listener.go</c> (protocol) from its <c>Scaler</c> (job started, job completed,
/// desired runner count). The listener knows nothing of the store or the planner.
/// </summary>
internal sealed class ScaleSetScaler(JobIngestor ingestor, FleetTelemetry telemetry)
{
    /// <summary>
    /// A message's job events: JobAssigned is demand, JobStarted marks the runner busy, JobCompleted ends the
    /// job (and, with a runner, starts its teardown). Returns how many jobs are new demand.
    /// </summary>
    public Task<int> HandleJobsAsync(PoolDefinition pool, string scaleSetName, IReadOnlyList<ScaleSetJobEvent> events, CancellationToken ct)
    {
        var jobs = new List<JobRecord>();
        foreach (var e in events)
        {
            var status = e.MessageType switch
            {
                "JobAssigned" or "JobAvailable" => JobStatus.Queued,
                "JobStarted" => JobStatus.InProgress,
                "JobCompleted" => JobStatus.Completed,
                _ => (JobStatus?)null,
            };
            if (status is not { } s)
            {
                continue;
            }

            jobs.Add(new JobRecord
            {
                Id = e.RunnerRequestId,
                RunId = e.WorkflowRunId,
                Repository = $"{e.OwnerName}/{e.RepositoryName}",
                Name = e.JobDisplayName,
                Labels = e.RequestLabels ?? [scaleSetName],
                Status = s,
                // GitHub assigned it to this pool's scale set: no label matching, no other pool.
                Pool = pool.Name,
                RunnerName = string.IsNullOrEmpty(e.RunnerName) ? null : e.RunnerName,
                Conclusion = s == JobStatus.Completed ? e.Result switch { "succeeded" => "success", "canceled" => "cancelled", _ => "failure" } : null,
                QueuedAt = e.QueueTime,
            });
        }

        return ingestor.IngestAsync(jobs, "scale set", pool.Channel, ct);
    }

    /// <summary>The pool's desired runner count from the scale set's statistics: <c>min(MinIdle + totalAssignedJobs, MaxRunners)</c>.</summary>
    public int HandleDesiredRunnerCount(PoolDefinition pool, ScaleSetStatistics statistics)
    {
        var desired = Math.Min(pool.MinIdle + statistics.TotalAssignedJobs, pool.MaxRunners);
        telemetry.ScaleSetDesired(pool.Name, desired);
        return desired;
    }
}
