using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Where every job source delivers: assigns each job its pool and scope, stores it (the same job from
/// poller and webhook is one demand), advances runners it names, and wakes the planner on new demand.
/// </summary>
public sealed partial class JobIngestor(IFleetStore store, PoolCatalog pools, IOptions<GitHubOptions> github, RunnerTracker tracker, ForkPolicy forks, Reaper reaper, IFleetSignals signals, ILogger<JobIngestor> logger)
{
    private readonly IReadOnlyList<PoolDefinition> _labelPools = [.. pools.Pools.Where(p => p.Discovery == JobDiscovery.Jobs)];
    private readonly IReadOnlyList<PoolDefinition> _scaleSetPools = [.. pools.Pools.Where(p => p.Discovery == JobDiscovery.ScaleSet)];

    /// <summary>A job whose <c>runs-on</c> is a scale set's name (GitHub gives it to that scale set).</summary>
    private bool IsScaleSetJob(JobRecord job) =>
        job.Labels.Where(l => !string.Equals(l, LabelMatcher.SelfHosted, StringComparison.OrdinalIgnoreCase)).ToList() is [var only]
        && _scaleSetPools.Any(p => string.Equals(p.ScaleSetName, only, StringComparison.OrdinalIgnoreCase));

    public async Task<int> IngestAsync(IEnumerable<JobRecord> jobs, string source, CancellationToken ct)
    {
        var newDemand = 0;
        foreach (var job in jobs)
        {
            // Scale-set pools hear of their jobs from their scale set only; polling and webhooks leave those jobs alone.
            var pool = LabelMatcher.FindPool(_labelPools, job.Labels);
            if (pool is null && IsScaleSetJob(job))
            {
                continue;
            }

            var verdict = pool is null ? ForkVerdict.Allowed : await forks.DecideAsync(pool, job, ct).ConfigureAwait(false);
            var refusal = verdict.Refusal;
            var served = refusal is null && !verdict.IsUndecided;
            var change = await store.UpsertJobAsync(job with { Pool = served ? pool?.Name : null, Refusal = refusal, Scope = ScopeFor(job.Repository) }, ct).ConfigureAwait(false);
            if (change.Changed && refusal is not null && change.Stored.Refusal == refusal && change.Stored.Status == JobStatus.Queued)
            {
                // The job stays queued on GitHub; nobody here will serve it.
                LogRefused(logger, job.Id, job.Repository, refusal, source);
            }
            else if (change.IsNew && change.Stored.Status == JobStatus.Queued && pool is null)
            {
                LogUnserved(logger, job.Id, job.Repository, string.Join(",", job.Labels), source);
            }
            else if (served && pool is not null && change.Changed && change.Stored.Status == JobStatus.Queued && change.Stored.Pool is not null)
            {
                // New demand, or a job that was undecided (its run unreadable) and now has its pool.
                newDemand++;
                LogQueued(logger, job.Id, job.Repository, string.Join(",", job.Labels), pool.Name, source);
            }

            if (change.Changed && change.Stored.RunnerName is not null)
            {
                await tracker.OnJobAsync(change.Stored, ct).ConfigureAwait(false);
                if (change.Stored.Refusal is { } reason && tracker.IsOurs(change.Stored.RunnerName))
                {
                    await ContainAsync(change.Stored, reason, ct).ConfigureAwait(false);
                }
            }
        }

        if (newDemand > 0)
        {
            signals.DemandChanged();
        }

        return newDemand;
    }

    /// <summary>
    /// A scale set's job events for its pool: JobAssigned is demand (one runner request: a reassigned job is a
    /// new request), JobStarted marks the runner busy, JobCompleted ends the request (and, with a runner, starts
    /// its teardown). Returns how many requests are new demand.
    /// </summary>
    public async Task<int> IngestScaleSetAsync(PoolDefinition pool, IReadOnlyList<ScaleSetJobEvent> events, CancellationToken ct)
    {
        var newDemand = 0;
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

            var repository = $"{e.OwnerName}/{e.RepositoryName}";
            var job = new JobRecord
            {
                Id = e.RunnerRequestId,
                RunId = e.WorkflowRunId,
                Repository = repository,
                Name = e.JobDisplayName,
                Labels = e.RequestLabels ?? [pool.ScaleSetName],
                Status = s,
                Pool = pool.Name,
                Scope = ScopeFor(repository),
                RunnerName = string.IsNullOrEmpty(e.RunnerName) ? null : e.RunnerName,
                Conclusion = s == JobStatus.Completed ? e.Result switch { "succeeded" => "success", "canceled" => "cancelled", _ => "failure" } : null,
                QueuedAt = e.QueueTime,
            };
            var change = await store.UpsertJobAsync(job, ct).ConfigureAwait(false);
            if (change.IsNew && change.Stored.Status == JobStatus.Queued)
            {
                newDemand++;
                LogQueued(logger, job.Id, repository, string.Join(",", job.Labels), pool.Name, "scale set");
            }

            if (change.Changed && change.Stored.RunnerName is not null)
            {
                await tracker.OnJobAsync(change.Stored, ct).ConfigureAwait(false);
            }
        }

        if (newDemand > 0)
        {
            signals.DemandChanged();
        }

        return newDemand;
    }

    /// <summary>One of our runners took a refused job: cancel its run and destroy the runner now.</summary>
    private async Task ContainAsync(JobRecord job, string reason, CancellationToken ct)
    {
        LogContained(logger, job.RunnerName!, job.Id, job.Repository, reason);
        await forks.CancelRunAsync(job, ct).ConfigureAwait(false);
        if (await store.FindRunnerByNameAsync(job.RunnerName!, ct).ConfigureAwait(false) is { } runner)
        {
            await reaper.RetireAsync(new Retirement(runner.Id, runner.Name, RetirementKind.PolicyViolation, $"took job {job.Id}, which policy refused: {reason}"), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Runners register at the organization when it is configured, else at the repository.</summary>
    public string ScopeFor(string repository)
    {
        var owner = repository.Split('/')[0];
        return github.Value.Organizations.Contains(owner, StringComparer.OrdinalIgnoreCase) ? owner : repository;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} in {Repository} queued for pool {Pool} (labels {Labels}, via {Source})")]
    private static partial void LogQueued(ILogger logger, long jobId, string repository, string labels, string pool, string source);

    [LoggerMessage(Level = LogLevel.Error, Message = "Runner {RunnerName} took job {JobId} of {Repository}, which policy refused ({Refusal}); cancelling its run and destroying the runner")]
    private static partial void LogContained(ILogger logger, string runnerName, long jobId, string repository, string refusal);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} in {Repository} gets no runner: {Refusal} (via {Source})")]
    private static partial void LogRefused(ILogger logger, long jobId, string repository, string refusal, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} in {Repository} has labels {Labels} that no pool serves; it gets no runner (via {Source})")]
    private static partial void LogUnserved(ILogger logger, long jobId, string repository, string labels, string source);
}
