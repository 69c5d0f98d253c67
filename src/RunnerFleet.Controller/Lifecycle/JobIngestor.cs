using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Where every job source delivers: assigns each job its pool and scope, stores it (the same job from
/// poller and webhook is one demand), advances runners it names, and wakes the planner on new demand.
/// </summary>
public sealed partial class JobIngestor(IFleetStore store, PoolCatalog pools, IOptions<GitHubOptions> github, RunnerTracker tracker, IFleetSignals signals, ILogger<JobIngestor> logger)
{
    public async Task<int> IngestAsync(IEnumerable<JobRecord> jobs, string source, CancellationToken ct)
    {
        var newDemand = 0;
        foreach (var job in jobs)
        {
            var pool = LabelMatcher.FindPool(pools.Pools, job.Labels);
            var change = await store.UpsertJobAsync(job with { Pool = pool?.Name, Scope = ScopeFor(job.Repository) }, ct).ConfigureAwait(false);
            if (change.IsNew && change.Stored.Status == JobStatus.Queued)
            {
                if (pool is null)
                {
                    LogUnserved(logger, job.Id, job.Repository, string.Join(",", job.Labels), source);
                }
                else
                {
                    newDemand++;
                    LogQueued(logger, job.Id, job.Repository, string.Join(",", job.Labels), pool.Name, source);
                }
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

    /// <summary>Runners register at the organization when it is configured, else at the repository.</summary>
    public string ScopeFor(string repository)
    {
        var owner = repository.Split('/')[0];
        return github.Value.Organizations.Contains(owner, StringComparer.OrdinalIgnoreCase) ? owner : repository;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} in {Repository} queued for pool {Pool} (labels {Labels}, via {Source})")]
    private static partial void LogQueued(ILogger logger, long jobId, string repository, string labels, string pool, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} in {Repository} has labels {Labels} that no pool serves; it gets no runner (via {Source})")]
    private static partial void LogUnserved(ILogger logger, long jobId, string repository, string labels, string source);
}
