using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.Lifecycle;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Fixes drift between store, providers and GitHub; at start and every 60 s.</summary>
[DisallowConcurrentExecution]
internal sealed class ReconcileJob(Reconciler reconciler, FleetSignals signals, ILogger<ReconcileJob> logger) : LoopJob(signals, logger)
{
    public static readonly JobKey Key = new("reconcile", "runnerfleet");

    protected override JobKey JobKey => Key;

    protected override Task RunAsync(CancellationToken ct) => reconciler.ReconcileAsync(ct);
}
