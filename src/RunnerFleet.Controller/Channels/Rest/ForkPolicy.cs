using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>
/// Refuses runners for jobs of pull requests from forks of public repositories, unless the pool allows
/// them (<c>AllowForkPullRequests</c>): a fork's code would run on the fleet's machine. What the job source
/// knew of the run decides; when it did not know (webhooks carry no event or head repository), the run
/// is read once and remembered. When the run cannot be read the job is undecided: it gets no pool for
/// now and is asked about again at its next observation (the poller observes it again).
/// </summary>
internal sealed partial class ForkPolicy(GitHubApiClient github, FleetTelemetry telemetry, ILogger<ForkPolicy> logger) : IJobPolicy
{
    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<long, JobOrigin> _runs = new();

    /// <summary>Whether the pool may serve the job: <see cref="JobVerdict.Allowed"/>, refused (with the reason), or undecided for now.</summary>
    public async Task<JobVerdict> DecideAsync(PoolDefinition pool, JobRecord job, CancellationToken ct)
    {
        // Whatever the job's status: the ingestor asks about queued jobs and about every job on one of our runners.
        if (pool.AllowForkPullRequests || job.Origin?.RepositoryPrivate == true)
        {
            return JobVerdict.Allowed;
        }

        var origin = job.Origin?.IsPublicForkPullRequest(job.Repository) is not null ? job.Origin : await RunOriginAsync(job, ct).ConfigureAwait(false);
        if (origin is null)
        {
            return JobVerdict.Undecided;
        }

        return origin.IsPublicForkPullRequest(job.Repository) == true
            ? new JobVerdict($"{origin.Event} from fork {origin.HeadRepository ?? "(deleted)"} of public repository {job.Repository}; pool {pool.Name} refuses them (AllowForkPullRequests is off)", false)
            : JobVerdict.Allowed;
    }

    /// <summary>
    /// A refused job was taken by one of the fleet's runners anyway (GitHub gives a queued job to any idle
    /// runner whose labels match, e.g. one made for another job of the same repository): cancel its run.
    /// </summary>
    public async Task ContainAsync(JobRecord job, CancellationToken ct)
    {
        try
        {
            if (!await github.CancelRunAsync(job.Repository, job.RunId, ct).ConfigureAwait(false))
            {
                LogNotCancellable(logger, job.RunId, job.Repository);
            }
        }
        catch (GitHubApiException e) when (e.Status == System.Net.HttpStatusCode.Forbidden)
        {
            // The token may read runs but not cancel them: the App needs "actions: write" (README, infra/github-app).
            telemetry.PolicyCancelFailed("forbidden");
            LogCancelForbidden(logger, job.RunId, job.Repository, e.Message);
        }
        catch (Exception e) when (e is GitHubApiException or HttpRequestException or TimeoutException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // Never let a failed cancel stop the containment: the runner is destroyed next all the same.
            telemetry.PolicyCancelFailed("error");
            LogCancelFailed(logger, job.RunId, job.Repository, e.Message);
        }
    }

    public async Task<bool?> CameFromForkAsync(JobRecord job, CancellationToken ct)
    {
        var origin = job.Origin is { Event: not null } known ? known : await RunOriginAsync(job, ct).ConfigureAwait(false);
        if (origin?.Event is not { } name)
        {
            return null;
        }

        // pull_request and its kin with a head commit from elsewhere (or from a fork since deleted), private repositories too.
        return name.StartsWith("pull_request", StringComparison.Ordinal) && !string.Equals(origin.HeadRepository, job.Repository, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<JobOrigin?> RunOriginAsync(JobRecord job, CancellationToken ct)
    {
        if (_runs.TryGetValue(job.RunId, out var known))
        {
            return known;
        }

        WorkflowRun? run;
        try
        {
            run = await github.GetRunAsync(job.Repository, job.RunId, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is GitHubApiException or HttpRequestException or TimeoutException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // Undecided, not an error of the whole poll: the job (and the jobs after it) are still judged.
            LogUnreadable(logger, job.RunId, job.Repository, e.Message);
            return null;
        }

        if (run?.Origin is not { Event: not null, RepositoryPrivate: not null } origin)
        {
            LogUnreadable(logger, job.RunId, job.Repository, run is null ? "not found" : "the answer lacks event or repository.private");
            return null;
        }

        if (_runs.Count >= MaxRemembered)
        {
            _runs.Clear();
        }

        _runs[job.RunId] = origin;
        return origin;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} of {Repository} could not be cancelled: the GitHub token lacks \"actions: write\" ({Error}); its runner is destroyed, but the run's other jobs may still go to other runners")]
    private static partial void LogCancelForbidden(ILogger logger, long runId, string repository, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} of {Repository} was not cancelled: it had already finished")]
    private static partial void LogNotCancellable(ILogger logger, long runId, string repository);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} of {Repository} could not be cancelled: {Error}")]
    private static partial void LogCancelFailed(ILogger logger, long runId, string repository, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} of {Repository} could not be read to check for a fork pull request: {Error}; its jobs wait")]
    private static partial void LogUnreadable(ILogger logger, long runId, string repository, string error);
}
