using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>Reads the fleet, asks the pure <see cref="ScalePlanner"/> what to do, and does it.</summary>
public sealed partial class PlanExecutor(
    IFleetStore store,
    PoolCatalog pools,
    Provisioner provisioner,
    Reaper reaper,
    PoolAvailability availability,
    PoolDrains drains,
    IFleetSignals signals,
    IOptions<FleetOptions> options,
    FleetTelemetry telemetry,
    TimeProvider time,
    ILogger<PlanExecutor> logger)
{
    /// <summary>How long a finished runner with an unknown job keeps absorbing a stale queued job; polls attribute it well before.</summary>
    public static readonly TimeSpan UnattributedWindow = TimeSpan.FromMinutes(2);

    private readonly PoolBackoff _backoff = new();

    /// <summary>How long a pool whose provider has no capacity is skipped before it is tried again.</summary>
    public static readonly TimeSpan UnavailableFor = TimeSpan.FromSeconds(60);

    /// <summary>The longest a pool waits after GitHub failed a registration.</summary>
    public static readonly TimeSpan GitHubFailureMaxWait = TimeSpan.FromSeconds(15);

    public async Task<FleetPlan> RunAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var runners = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
        var unattributed = await store.ListUnattributedSinceAsync(now - UnattributedWindow, ct).ConfigureAwait(false);
        var queued = await store.ListJobsAsync(JobStatus.Queued, 10_000, ct).ConfigureAwait(false);
        var plan = ScalePlanner.Plan(pools.Pools, [.. runners, .. unattributed], queued, now, drains.Drained(), availability.Unavailable(now), options.Value.MaxRunners);
        PublishGauges(runners, queued);

        if (plan.Provisions.Count > 0)
        {
            LogPlan(logger, plan.TotalToProvision, string.Join(", ", plan.Provisions.Select(p => $"{p.Pool}@{p.Scope}×{p.Count}")));
        }

        var work = plan.Provisions.Where(p => !_backoff.IsWaiting(p.Pool, now)).SelectMany(p => Enumerable.Repeat(p, p.Count)).ToList();
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = options.Value.ProvisionParallelism, CancellationToken = ct }, async (p, token) =>
        {
            if (_backoff.IsWaiting(p.Pool, time.GetUtcNow()))
            {
                return;
            }

            var (made, code) = await provisioner.ProvisionAsync(pools.Find(p.Pool)!, p.Scope, token).ConfigureAwait(false);
            if (made.State != RunnerState.Failed)
            {
                _backoff.Succeeded(p.Pool);
                availability.MarkAvailable(p.Pool);
                return;
            }

            var at = time.GetUtcNow();
            if (code is "no_capacity" or "quota")
            {
                // The provider cannot make runners for a while: hand the demand to the overflow pool now.
                var wait = code == "quota" ? PoolBackoff.Max : UnavailableFor;
                availability.MarkUnavailable(p.Pool, at + wait, made.FailureReason ?? code);
                telemetry.PoolUnavailable(p.Pool, code);
                LogUnavailable(logger, p.Pool, code, wait.TotalSeconds, made.FailureReason ?? code, pools.Find(p.Pool)?.Overflow ?? "none");
                signals.DemandChanged();
            }
            else
            {
                // GitHub errors were already retried by the client as GitHub asks; they pass, so wait briefly.
                // Provider failures (a bad image, say) last: back off up to five minutes.
                var wait = _backoff.Failed(p.Pool, at, code == "github" ? GitHubFailureMaxWait : null);
                LogBackoff(logger, p.Pool, wait.TotalSeconds, made.FailureReason ?? "unknown");
            }
        }).ConfigureAwait(false);

        foreach (var retirement in plan.Retirements)
        {
            LogRetire(logger, retirement.RunnerName, retirement.Reason);
            await reaper.RetireAsync(retirement, ct).ConfigureAwait(false);
        }

        return plan;
    }

    private void PublishGauges(IReadOnlyList<RunnerRecord> runners, IReadOnlyList<JobRecord> queued)
    {
        var byState = new Dictionary<(string, string), int>();
        foreach (var pool in pools.Pools)
        {
            foreach (var state in Enum.GetValues<RunnerState>().Where(s => !RunnerStateMachine.IsFinal(s)))
            {
                byState[(pool.Name, state.ToString())] = runners.Count(r => r.Pool == pool.Name && r.State == state);
            }
        }

        telemetry.SetFleetState(byState, pools.Pools.ToDictionary(p => p.Name, p => queued.Count(j => j.Pool == p.Name)));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan: provisioning {Count} runners ({Detail})")]
    private static partial void LogPlan(ILogger logger, int count, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "Pool {Pool} stops provisioning ({Code}) for {WaitSeconds:F0} s: {Reason}. Its jobs go to overflow pool {Overflow}")]
    private static partial void LogUnavailable(ILogger logger, string pool, string code, double waitSeconds, string reason, string overflow);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Pool {Pool}: provisioning failed ({Reason}); no new runners for {WaitSeconds:F0} s")]
    private static partial void LogBackoff(ILogger logger, string pool, double waitSeconds, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan: retiring runner {RunnerName}: {Reason}")]
    private static partial void LogRetire(ILogger logger, string runnerName, string reason);
}
