using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Tears down runners whose resource exited; runs on its interval and at once on a container exit.</summary>
[DisallowConcurrentExecution]
internal sealed class ReapJob(Reaper reaper, FleetSignals signals, ILogger<ReapJob> logger) : LoopJob(signals, logger)
{
    public static readonly JobKey Key = new("reap", "runnerfleet");

    protected override JobKey JobKey => Key;

    protected override Task RunAsync(CancellationToken ct) => reaper.ReapAsync(ct);
}
