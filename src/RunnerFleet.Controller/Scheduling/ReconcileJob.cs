using Microsoft.Extensions.Logging;
using Quartz;
using RunnerFleet.Controller.Caching;
using RunnerFleet.Controller.Lifecycle;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Scheduling;

/// <summary>Fixes drift between store, providers and GitHub, and tidies warm caches; at start and every 60 s.</summary>
[DisallowConcurrentExecution]
internal sealed class ReconcileJob(Reconciler reconciler, RunnerCaches caches, IFleetStore store, FleetSignals signals, ILogger<ReconcileJob> logger) : LoopJob(signals, logger)
{
    public static readonly JobKey Key = new("reconcile", "runnerfleet");

    protected override JobKey JobKey => Key;

    protected override async Task RunAsync(CancellationToken ct)
    {
        await reconciler.ReconcileAsync(ct).ConfigureAwait(false);
        if (caches.Enabled)
        {
            // Read after the reconcile: a layer whose runner is no longer live is left over from a crash.
            var live = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
            await caches.SweepAsync(live.Select(r => r.Name).ToHashSet(StringComparer.Ordinal), ct).ConfigureAwait(false);
        }
    }
}
