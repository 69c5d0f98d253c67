using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>
/// Polls GitHub: per repository, runs with status queued and in_progress (a started run can still hold
/// queued jobs), then each such run's jobs. Every GET is conditional, so a repository where nothing
/// changed costs two free 304s. Jobs the store still thinks active but the listing no longer shows are
/// fetched once to learn how they ended.
/// </summary>
internal sealed partial class RestPollingJobSource(
    GitHubApiClient github, JobIngestor ingestor, IFleetStore store, RunnerTracker tracker, IOptions<GitHubOptions> options, ILogger<RestPollingJobSource> logger) : IJobPoller
{
    public const string Name = "poll";

    public async Task<int> PollAsync(CancellationToken ct)
    {
        var seen = new List<JobRecord>();
        foreach (var repo in options.Value.Repositories)
        {
            try
            {
                foreach (var status in new[] { "queued", "in_progress" })
                {
                    foreach (var run in await github.ListRunsAsync(repo, status, ct).ConfigureAwait(false))
                    {
                        foreach (var job in await github.ListJobsAsync(repo, run.Id, ct).ConfigureAwait(false))
                        {
                            if (WorkflowJobMapper.ToRecord(job, repo) is { } record)
                            {
                                seen.Add(record with { Origin = run.Origin });
                            }
                        }
                    }
                }
            }
            catch (GitHubApiException e)
            {
                LogPollFailed(logger, repo, e.Message);
            }
        }

        await ingestor.IngestAsync(seen, Name, RestChannel.KindName, ct).ConfigureAwait(false);

        // Jobs that left the active listings ended (or were cancelled) since the last poll.
        var seenIds = seen.Select(j => j.Id).ToHashSet();
        var polled = options.Value.Repositories.ToHashSet(StringComparer.OrdinalIgnoreCase);
        var vanished = new List<JobRecord>();
        foreach (var status in new[] { JobStatus.Queued, JobStatus.InProgress })
        {
            foreach (var job in await store.ListJobsAsync(status, 500, ct).ConfigureAwait(false))
            {
                if (seenIds.Contains(job.Id) || !polled.Contains(job.Repository))
                {
                    continue;
                }

                try
                {
                    if (await github.GetJobAsync(job.Repository, job.Id, ct).ConfigureAwait(false) is { } fresh && WorkflowJobMapper.ToRecord(fresh, job.Repository) is { } record)
                    {
                        vanished.Add(record);
                    }
                }
                catch (GitHubApiException e)
                {
                    LogPollFailed(logger, job.Repository, e.Message);
                }
            }
        }

        await ingestor.IngestAsync(vanished, Name, RestChannel.KindName, ct).ConfigureAwait(false);

        // Runner status (online/busy) for scopes with live runners; conditional too.
        foreach (var scope in (await store.ListActiveRunnersAsync(ct).ConfigureAwait(false)).Select(r => r.Scope).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            try
            {
                await tracker.OnRunnersAsync(await github.ListRunnersAsync(scope, ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            }
            catch (GitHubApiException e)
            {
                LogPollFailed(logger, scope, e.Message);
            }
        }

        return seen.Count;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling {Repository} failed: {Error}; next poll retries")]
    private static partial void LogPollFailed(ILogger logger, string repository, string error);
}
