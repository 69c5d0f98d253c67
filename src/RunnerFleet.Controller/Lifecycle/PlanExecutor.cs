using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>Reads the fleet, asks the pure <see cref="ScalePlanner"/> what to do, and does it.</summary>
internal sealed partial class PlanExecutor(
    IFleetStore store,
    ActiveRunnerView active,
    PoolCatalog pools,
    Provisioner provisioner,
    Reaper reaper,
    ServerReuse reuse,
    PoolAvailability availability,
    IFleetSignals signals,
    IOptions<FleetOptions> options,
    FleetTelemetry telemetry,
    TimeProvider time,
    ILogger<PlanExecutor> logger)
{
    /// <summary>How long a finished runner with an unknown job keeps absorbing a stale queued job; polls attribute it well before.</summary>
    public static readonly TimeSpan UnattributedWindow = TimeSpan.FromMinutes(2);

    private readonly PoolBackoff _backoff = new();
    private readonly Dictionary<string, decimal> _prices = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _capsLogged = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>How long a pool whose provider has no capacity is skipped before it is tried again.</summary>
    public static readonly TimeSpan UnavailableFor = TimeSpan.FromSeconds(60);

    /// <summary>The longest a pool waits after GitHub failed a registration.</summary>
    public static readonly TimeSpan GitHubFailureMaxWait = TimeSpan.FromSeconds(15);

    public async Task<FleetPlan> RunAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var runners = await active.ListAsync(ct).ConfigureAwait(false);
        var unattributed = await store.ListUnattributedSinceAsync(now - UnattributedWindow, ct).ConfigureAwait(false);
        var queued = await store.ListJobsAsync(JobStatus.Queued, 10_000, ct).ConfigureAwait(false);
        var spending = await EvaluateSpendingAsync(runners, now, ct).ConfigureAwait(false);
        var unavailable = availability.Unavailable(now).Union(spending.Blocked(pools.Pools), StringComparer.OrdinalIgnoreCase).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var targets = await store.ListPoolTargetsAsync(ct).ConfigureAwait(false);
        // Runners of pools with a channel target that were gone since it was set still served a job it counts.
        IReadOnlyList<RunnerRecord> goneSinceTarget = targets.Count == 0 ? [] :
            [.. (await store.ListGoneSinceAsync(targets.Values.Min(t => t.At), ct).ConfigureAwait(false))
                .Where(r => targets.ContainsKey(r.Pool) && unattributed.All(u => u.Id != r.Id))];
        // Machines about to be handed to a new runner count as the runners they will be.
        var handovers = reuse.PendingSupply(runners, now).ToList();
        var plan = ScalePlanner.Plan(pools.Pools, [.. runners, .. unattributed, .. goneSinceTarget, .. handovers], queued, now, await store.ListDrainedPoolsAsync(ct).ConfigureAwait(false), unavailable, options.Value.MaxRunners, targets);
        PublishGauges(runners, queued);

        if (plan.Provisions.Count > 0)
        {
            LogPlan(logger, plan.TotalToProvision, string.Join(", ", plan.Provisions.Select(p => $"{p.Pool}@{p.Scope}×{p.Count}")));
        }

        var work = WithinBudget(plan.Provisions.Where(p => !_backoff.IsWaiting(p.Pool, now)).SelectMany(p => Enumerable.Repeat(p, p.Count)), spending);
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = options.Value.ProvisionParallelism, CancellationToken = ct }, async (p, token) =>
        {
            // A sibling of this tick may have found the pool broken or out of capacity already.
            if (_backoff.IsWaiting(p.Pool, time.GetUtcNow()) || availability.Unavailable(time.GetUtcNow()).Contains(p.Pool))
            {
                return;
            }

            RunnerRecord made;
            string? code;
            try
            {
                (made, code) = await provisioner.ProvisionAsync(pools.Find(p.Pool)!, p.Scope, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                // One provision's failure (the store, say) must not cancel its siblings half-way: they would leave
                // records behind. The provisioner failed its own record; back off like any failure.
                var wait = _backoff.Failed(p.Pool, time.GetUtcNow(), null);
                LogBackoff(logger, p.Pool, wait.TotalSeconds, e.Message);
                return;
            }

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
            try
            {
                await reaper.RetireAsync(retirement, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // The next tick retries it; the others go on.
                LogRetireFailed(logger, retirement.RunnerName, e.Message);
            }
        }

        return plan;
    }

    private async Task<SpendingVerdict> EvaluateSpendingAsync(IReadOnlyList<RunnerRecord> runners, DateTimeOffset now, CancellationToken ct)
    {
        if (!pools.Pools.Any(p => p.IsPaid))
        {
            return SpendingVerdict.None;
        }

        foreach (var r in runners.Where(r => r.HourlyPrice is not null))
        {
            _prices[r.Pool] = Math.Max(_prices.GetValueOrDefault(r.Pool), r.HourlyPrice!.Value);
        }

        var midnight = new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
        var settled = await store.CostByPoolAsync(midnight, ct).ConfigureAwait(false);
        var verdict = SpendingCaps.Evaluate(pools.Pools, options.Value.DailyBudget, settled, runners, _prices, now);
        telemetry.SetCostToday(verdict.SpentToday);
        telemetry.SetCostPerJobToday(await store.CostPerJobTodayAsync(verdict.SpentToday, now, ct).ConfigureAwait(false));
        foreach (var cap in verdict.Reached)
        {
            // Once per cap and day: the log line and the metric say when and why paid runners stopped.
            if (_capsLogged.Add($"{cap.Pool ?? "*fleet*"}|{midnight:yyyy-MM-dd}"))
            {
                telemetry.SpendingCapReached(cap.Pool);
                if (cap.Pool is { } name)
                {
                    LogPoolCap(logger, name, cap.Spent, cap.Budget, pools.Find(name)?.Overflow ?? "none");
                }
                else
                {
                    LogFleetCap(logger, cap.Spent, cap.Budget);
                }
            }
        }

        return verdict;
    }

    /// <summary>Drops provisions beyond what the spending caps allow now (pool caps, then the fleet's).</summary>
    private List<Provision> WithinBudget(IEnumerable<Provision> work, SpendingVerdict spending)
    {
        var poolLeft = spending.PoolAllowed.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!.Value, StringComparer.OrdinalIgnoreCase);
        var fleetLeft = spending.FleetAllowed;
        var kept = new List<Provision>();
        foreach (var p in work)
        {
            var paid = pools.Find(p.Pool)?.IsPaid == true;
            if (paid && ((poolLeft.TryGetValue(p.Pool, out var left) && left <= 0) || fleetLeft <= 0))
            {
                continue;
            }

            if (paid)
            {
                if (poolLeft.ContainsKey(p.Pool))
                {
                    poolLeft[p.Pool]--;
                }

                fleetLeft--;
            }

            kept.Add(p);
        }

        return kept;
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

    [LoggerMessage(Level = LogLevel.Error, Message = "Pool {Pool} reached its daily spending cap: {Spent:F4} of {Budget} EUR spent today; no new servers until 00:00 UTC. Its jobs go to overflow pool {Overflow}")]
    private static partial void LogPoolCap(ILogger logger, string pool, decimal spent, decimal budget, string overflow);

    [LoggerMessage(Level = LogLevel.Error, Message = "The fleet reached its daily spending cap (Fleet:DailyBudget): {Spent:F4} of {Budget} EUR spent today; no new paid runners until 00:00 UTC")]
    private static partial void LogFleetCap(ILogger logger, decimal spent, decimal budget);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Plan: retiring runner {RunnerName} failed: {Error}; the next tick retries")]
    private static partial void LogRetireFailed(ILogger logger, string runnerName, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Plan: retiring runner {RunnerName}: {Reason}")]
    private static partial void LogRetire(ILogger logger, string runnerName, string reason);
}
