using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Plans and provisions; runs on its interval and at once on new demand.</summary>
[DisallowConcurrentExecution]
internal sealed class PlanAndProvisionJob(PlanExecutor executor, FleetSignals signals, ILogger<PlanAndProvisionJob> logger) : LoopJob(signals, logger)
{
    public static readonly JobKey Key = new("plan-and-provision", "runnerfleet");

    protected override JobKey JobKey => Key;

    protected override Task RunAsync(CancellationToken ct) => executor.RunAsync(ct);
}
