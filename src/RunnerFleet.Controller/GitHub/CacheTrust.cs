using System.Collections.Concurrent;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.GitHub;

/// <summary>
/// The trust rule for warm caches, decided from GitHub's own record of the job, never from anything the job or its
/// runner said: a runner's writes are kept only when the job it ran <b>completed with conclusion success</b>, on
/// <b>this runner</b>, in a run whose <b>event is push, schedule or workflow_dispatch</b>, on the repository's
/// <b>default branch</b> (<c>head_branch</c> = the repository's <c>default_branch</c>), with its head commit <b>in
/// the repository itself</b> (<c>head_repository</c>), whose commit is <b>in the default branch's history</b> (a tag
/// may carry the branch's name), and, for a repository-scoped cache, in <b>the cache's own repository</b>; with
/// <c>Cache:Repositories</c> set, only in one of those. Anything else (pull requests of any kind, forks, other branches, tags, failures, a job GitHub does
/// not answer for) is not trusted. Sources: GET /repos/{owner}/{repo}/actions/jobs/{job_id}, …/actions/runs/{run_id}
/// GET /repos/{owner}/{repo} and GET /repos/{owner}/{repo}/compare/{base}...{head} (GitHub REST docs: "Get a job for a
/// workflow run", "Get a workflow run", "Get a repository", "Compare two commits").
/// </summary>
internal sealed class CacheTrust(GitHubApiClient github, IFleetStore store, TimeProvider time) : ICacheTrust
{
    /// <summary>Events whose code is the repository's own, pushed by someone with write access (GitHub docs, "Events that trigger workflows").</summary>
    public static readonly IReadOnlySet<string> TrustedEvents = new HashSet<string>(StringComparer.Ordinal) { "push", "schedule", "workflow_dispatch" };

    private static readonly TimeSpan s_defaultBranchFor = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, (string? Branch, DateTimeOffset At)> _defaultBranches = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="cacheRepository">The repository a repository-scoped cache belongs to; null for a pool-scoped one.</param>
    public async Task<CacheVerdict> JudgeAsync(RunnerRecord runner, string? cacheRepository, CancellationToken ct)
    {
        if (runner.State == RunnerState.Failed)
        {
            return CacheVerdict.Untrusted("the runner failed");
        }

        if (runner.JobId is not { } jobId)
        {
            return CacheVerdict.Untrusted("the runner took no job");
        }

        var repository = cacheRepository ?? (await store.FindJobByRunnerAsync(runner.Name, ct).ConfigureAwait(false))?.Repository
            ?? (runner.Scope.Contains('/', StringComparison.Ordinal) ? runner.Scope : null);
        if (repository is null)
        {
            return CacheVerdict.Undecided($"job {jobId}'s repository is not known");
        }

        try
        {
            var job = await github.GetJobAsync(repository, jobId, ct).ConfigureAwait(false);
            if (job is null)
            {
                return CacheVerdict.Undecided($"GitHub has no job {jobId} in {repository}");
            }

            if (!string.Equals(job.RunnerName, runner.Name, StringComparison.Ordinal))
            {
                return CacheVerdict.Untrusted($"job {jobId} ran on runner '{job.RunnerName}', not this one");
            }

            if (job.Status != "completed" || job.Conclusion != "success")
            {
                return job.Status == "completed"
                    ? CacheVerdict.Untrusted($"job {jobId} ended {job.Conclusion ?? "without a conclusion"}")
                    : CacheVerdict.Undecided($"job {jobId} is {job.Status ?? "of unknown status"}, not completed");
            }

            var run = await github.GetRunAsync(repository, job.RunId, ct).ConfigureAwait(false);
            if (run is null)
            {
                return CacheVerdict.Undecided($"GitHub has no run {job.RunId} in {repository}");
            }

            if (run.Event is not { } name || !TrustedEvents.Contains(name))
            {
                return CacheVerdict.Untrusted($"run {run.Id} is a {run.Event ?? "(unknown)"} run, not push, schedule or workflow_dispatch");
            }

            if (!string.Equals(run.HeadRepository?.FullName, repository, StringComparison.OrdinalIgnoreCase))
            {
                return CacheVerdict.Untrusted($"run {run.Id}'s code comes from {run.HeadRepository?.FullName ?? "(unknown)"}, not {repository}");
            }

            var defaultBranch = await DefaultBranchAsync(repository, ct).ConfigureAwait(false);
            if (defaultBranch is null || !string.Equals(run.HeadBranch, defaultBranch, StringComparison.Ordinal))
            {
                return defaultBranch is null
                    ? CacheVerdict.Undecided($"{repository}'s default branch is not known")
                    : CacheVerdict.Untrusted($"run {run.Id} is on {run.HeadBranch ?? "(no branch)"}, not the default branch {defaultBranch}");
            }

            // head_branch is a tag's name for a tag's run, and a tag may be named like the default branch (branch
            // protection does not cover tags): the commit itself must be in the default branch's history.
            var onBranch = run.HeadSha is { Length: > 0 } sha ? await github.CompareAsync(repository, defaultBranch, sha, ct).ConfigureAwait(false) : null;
            if (onBranch is not ("identical" or "behind"))
            {
                return onBranch is null
                    ? CacheVerdict.Undecided($"run {run.Id}'s commit could not be compared with {defaultBranch}")
                    : CacheVerdict.Untrusted($"run {run.Id}'s commit {run.HeadSha} is not on {defaultBranch} ({onBranch}): a tag or a commit of another branch");
            }

            return new CacheVerdict(true, $"job {jobId} succeeded in a {name} run on {defaultBranch} of {repository}", "trusted", repository);
        }
        catch (Exception e) when (e is GitHubApiException or HttpRequestException or TimeoutException || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return CacheVerdict.Undecided($"GitHub could not be asked: {e.Message}");
        }
    }

    private async Task<string?> DefaultBranchAsync(string repository, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (_defaultBranches.TryGetValue(repository, out var known) && now - known.At < s_defaultBranchFor)
        {
            return known.Branch;
        }

        var branch = (await github.GetRepositoryAsync(repository, ct).ConfigureAwait(false))?.DefaultBranch;
        _defaultBranches[repository] = (branch, now);
        return branch;
    }
}
