using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Polls the job sources that are asked, not pushed (GitHub's REST API: default every 10 s).</summary>
[DisallowConcurrentExecution]
internal sealed class PollGitHubJob(IEnumerable<IJobPoller> sources, FleetSignals signals, ILogger<PollGitHubJob> logger) : LoopJob(signals, logger)
{
    public static readonly JobKey Key = new("poll-github", "runnerfleet");

    protected override JobKey JobKey => Key;

    protected override async Task RunAsync(CancellationToken ct)
    {
        foreach (var source in sources)
        {
            await source.PollAsync(ct).ConfigureAwait(false);
        }
    }
}
