using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.GitHub;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Polls GitHub for queued and running jobs (default every 10 s).</summary>
[DisallowConcurrentExecution]
public sealed class PollGitHubJob(RestPollingJobSource source, FleetSignals signals, ILogger<PollGitHubJob> logger) : LoopJob(signals, logger)
{
    public static readonly JobKey Key = new("poll-github", "runnerfleet");

    protected override JobKey JobKey => Key;

    protected override Task RunAsync(CancellationToken ct) => source.PollAsync(ct);
}
