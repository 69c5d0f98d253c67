using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Where every job source delivers: assigns each job its pool and scope, stores it (the same job from
/// poller and webhook is one demand), advances runners it names, and wakes the planner on new demand.
/// A job is matched by labels to the pools of the channel whose source saw it, unless the channel already
/// knows its pool (a scale set's jobs); a job another channel claims is left to that channel.
/// </summary>
internal sealed partial class JobIngestor(
    IFleetStore store, PoolCatalog pools, IOptions<GitHubOptions> github, RunnerTracker tracker, IEnumerable<IJobPolicy> policies,
    Reaper reaper, RunnerChannels channels, IFleetSignals signals, FleetTelemetry telemetry, ILogger<JobIngestor> logger)
{
    private readonly IJobPolicy[] _policies = [.. policies];

    /// <param name="source">Which source saw them (for the log): poll, webhook, scale set.</param>
    /// <param name="channel">The channel of that source: only its pools serve jobs matched by label.</param>
    public async Task<int> IngestAsync(IEnumerable<JobRecord> jobs, string source, string channel, CancellationToken ct)
    {
        var candidates = pools.Pools.Where(p => string.Equals(p.Channel, channel, StringComparison.OrdinalIgnoreCase)).ToList();
        var others = channels.All.Where(c => !string.Equals(c.Kind, channel, StringComparison.OrdinalIgnoreCase)).ToList();
        var newDemand = 0;
        foreach (var job in jobs)
        {
            var assigned = job.Pool is { } known ? pools.Find(known) : null;
            var pool = assigned ?? LabelMatcher.FindPool(candidates, job.Labels);
            if (pool is null && others.Any(c => c.Claims(job)))
            {
                // Another channel serves it (a scale set's job seen by polling): its own source tells us of it.
                continue;
            }

            // Fail closed: a job on one of our runners is judged whatever its status and whatever matched it (it may
            // have been taken before it was ever seen queued: an idle runner, a lost webhook, a restart, an
            // organization runner taking a job of a repository nobody watches). A queued job is judged for its pool.
            var ourPool = assigned is null && job.Status != JobStatus.Queued ? tracker.PoolOf(job.RunnerName) : null;
            var verdict = ourPool is not null ? await DecideAsync(ourPool, job, ct).ConfigureAwait(false)
                : assigned is null && pool is not null && job.Status == JobStatus.Queued ? await DecideAsync(pool, job, ct).ConfigureAwait(false)
                : JobVerdict.Allowed;
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
            else if (served && pool is not null && change.Changed && change.Stored.Status == JobStatus.Queued && change.Stored.Pool is not null
                     && (assigned is null || change.IsNew))
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
                else if (verdict.IsUndecided && ourPool is not null && change.Stored.Status == JobStatus.InProgress)
                {
                    // Undecided on our runner: stop it now, decide later (the job's next observation asks again,
                    // and cancels the run if it then turns out refused).
                    await ContainUndecidedAsync(change.Stored, ct).ConfigureAwait(false);
                }
            }
        }

        if (newDemand > 0)
        {
            signals.DemandChanged();
        }

        return newDemand;
    }

    /// <summary>Every policy must allow the job; the first refusal (or undecided) wins.</summary>
    private async Task<JobVerdict> DecideAsync(PoolDefinition pool, JobRecord job, CancellationToken ct)
    {
        foreach (var policy in _policies)
        {
            var verdict = await policy.DecideAsync(pool, job, ct).ConfigureAwait(false);
            if (verdict != JobVerdict.Allowed)
            {
                return verdict;
            }
        }

        return JobVerdict.Allowed;
    }

    /// <summary>One of our runners took a refused job: stop it (the policies cancel its run) and destroy the runner now.</summary>
    private async Task ContainAsync(JobRecord job, string reason, CancellationToken ct)
    {
        LogContained(logger, job.RunnerName!, job.Id, job.Repository, reason);
        telemetry.PolicyContained("refused");
        foreach (var policy in _policies)
        {
            await policy.ContainAsync(job, ct).ConfigureAwait(false);
        }

        if (await store.FindRunnerByNameAsync(job.RunnerName!, ct).ConfigureAwait(false) is { } runner)
        {
            await reaper.RetireAsync(new Retirement(runner.Id, runner.Name, RetirementKind.PolicyViolation, $"took job {job.Id}, which policy refused: {reason}"), ct).ConfigureAwait(false);
        }
    }

    /// <summary>One of our runners runs a job no policy could decide on (its run unreadable): destroy the runner, fail closed.</summary>
    private async Task ContainUndecidedAsync(JobRecord job, CancellationToken ct)
    {
        LogContainedUndecided(logger, job.RunnerName!, job.Id, job.Repository);
        telemetry.PolicyContained("undecided");
        if (await store.FindRunnerByNameAsync(job.RunnerName!, ct).ConfigureAwait(false) is { } runner)
        {
            await reaper.RetireAsync(new Retirement(runner.Id, runner.Name, RetirementKind.PolicyViolation, $"took job {job.Id}, whose origin could not be checked (fail closed)"), ct).ConfigureAwait(false);
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Runner {RunnerName} took job {JobId} of {Repository}, whose run could not be read to check for a fork pull request; destroying the runner (fail closed) and asking again at the job's next observation")]
    private static partial void LogContainedUndecided(ILogger logger, string runnerName, long jobId, string repository);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} in {Repository} gets no runner: {Refusal} (via {Source})")]
    private static partial void LogRefused(ILogger logger, long jobId, string repository, string refusal, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} in {Repository} has labels {Labels} that no pool serves; it gets no runner (via {Source})")]
    private static partial void LogUnserved(ILogger logger, long jobId, string repository, string labels, string source);
}
