using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Pay for an hour, use the hour: a runner that finished its job hands its machine to a new runner instead of having it
/// destroyed, when its provider can rebuild it (<see cref="IRebuildingProvider"/>: a Hetzner server within its paid
/// hour) and the job allows it. The new runner is a new record with a new name, a new GitHub registration and a new root
/// disk; only the machine and its paid hour carry over. Never after a job from a fork pull request, or one whose origin
/// no policy could tell; by default only for runners registered to one repository; never into a drained or full pool.
/// <para>
/// Order, for crash safety: the old record goes Gone first (its cost up to now; whoever makes that write owns the
/// hand-over, so two reapers never hand one machine over twice), then the new record is written (Requested, holding the
/// machine's id), then, on its own task so the reaper is not held up, the new runner is registered and the machine
/// relabelled and rebuilt. A controller killed after the first write leaves a machine labelled for a finished record: the
/// reconciler deletes it as an orphan. Killed after the second, it leaves a Requested record of a dead owner: the reaper
/// adopts the machine if it carries the new runner's label (it boots with the new registration, or never comes online
/// and is removed at BootTimeout) and otherwise fails the record and deletes the machine by its id.
/// </para>
/// </summary>
internal sealed partial class ServerReuse(
    IFleetStore store,
    RunnerTransitions transitions,
    RunnerChannels channels,
    RunnerProviders providers,
    PoolCatalog pools,
    IEnumerable<IJobPolicy> policies,
    IOptions<FleetOptions> fleetOptions,
    ControllerNode node,
    ProvisionsInFlight inFlight,
    FleetTelemetry telemetry,
    TimeProvider time,
    ILogger<ServerReuse> logger) : IAsyncDisposable
{
    private readonly IJobPolicy[] _policies = [.. policies];
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, Task> _rebuilding = new(StringComparer.Ordinal);

    /// <summary>
    /// Hands the finished (Destroying) runner's machine to a new runner when allowed, and starts its rebuild. False: not
    /// allowed, nothing was done (destroy it as usual). True: the old record is Gone (handed over here, or by another
    /// controller that got there first); a rebuild that fails is given to <paramref name="destroy"/>.
    /// </summary>
    public async Task<bool> TryHandOverAsync(RunnerRecord finished, Func<RunnerRecord, CancellationToken, Task> destroy, CancellationToken ct)
    {
        if (await WhyNotAsync(finished, ct).ConfigureAwait(false) is { } why)
        {
            LogNotReused(logger, finished.Name, why);
            return false;
        }

        var pool = pools.Find(finished.Pool)!;
        var rebuilder = (IRebuildingProvider)providers.Get(finished.Provider);
        var now = time.GetUtcNow();
        var next = new RunnerRecord
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Name = RunnerNames.Create(pools.FleetName, pool.Name),
            Pool = pool.Name,
            Provider = finished.Provider,
            Scope = finished.Scope,
            State = RunnerState.Requested,
            RequestedAt = now,
            Owner = node.Id,
            ProviderResourceId = finished.ProviderResourceId,
            ProviderEndpoint = finished.ProviderEndpoint,
            HourlyPrice = finished.HourlyPrice,
            BilledSince = finished.BilledSince ?? finished.CreatedAt,
            PreviousRunner = finished.Name,
        };

        var applied = false;
        var gone = await transitions.ApplyAsync(finished.Id, x =>
        {
            applied = x.State == RunnerState.Destroying;
            return applied ? (x with { State = RunnerState.Gone, DestroyedAt = now, Cost = x.CostUntil(now) }, $"machine handed to {next.Name}") : null;
        }, ct).ConfigureAwait(false);
        if (gone is null || gone.State == RunnerState.Destroying)
        {
            // Not written (the store kept refusing): nothing was done.
            return false;
        }

        if (!applied)
        {
            // Another controller's reaper finished the old record first: the machine is its to hand over or delete.
            return true;
        }

        if (gone.Cost > 0)
        {
            telemetry.Cost(gone.Pool, gone.Cost);
        }

        var working = inFlight.Begin(next.Id);
        try
        {
            await store.InsertRunnerAsync(next, ct).ConfigureAwait(false);
        }
        catch
        {
            working.Dispose();
            throw;
        }

        var rebuild = Task.Run(() => RebuildAsync(next, finished, pool, rebuilder, destroy, working), CancellationToken.None);
        _rebuilding[next.Id] = rebuild;
        _ = rebuild.ContinueWith(_ => _rebuilding.TryRemove(next.Id, out var _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return true;
    }

    /// <summary>
    /// Runners whose machines are about to be handed over (finished, on a machine that may be rebuilt now for their pool
    /// and scope), as the new Requested runners they will be: the planner counts them as supply, so a job queued
    /// meanwhile does not pay for a server of its own. (Whether the job came from a fork is asked at the hand-over; if
    /// it did, the machine is deleted and the next plan tick makes a runner.)
    /// </summary>
    public IEnumerable<RunnerRecord> PendingSupply(IEnumerable<RunnerRecord> runners, DateTimeOffset now)
    {
        foreach (var r in runners)
        {
            if (r.State is RunnerState.Completed or RunnerState.Destroying && r.ProviderResourceId is not null && (r.JobId is not null || r.BusyAt is not null)
                && Rebuildable(r, now) is not null)
            {
                yield return r with
                {
                    Id = $"{r.Id}~handover", State = RunnerState.Requested, RequestedAt = now, CreatedAt = null, OnlineAt = null, BusyAt = null,
                    CompletedAt = null, JobId = null, PreviousRunner = r.Name,
                };
            }
        }
    }

    /// <summary>Waits for the rebuilds started so far (tests, shutdown).</summary>
    public Task WhenIdleAsync() => Task.WhenAll([.. _rebuilding.Values]);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(WhenIdleAsync(), Task.Delay(TimeSpan.FromSeconds(20), TimeProvider.System)).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task RebuildAsync(RunnerRecord next, RunnerRecord finished, PoolDefinition pool, IRebuildingProvider rebuilder, Func<RunnerRecord, CancellationToken, Task> destroy, IDisposable working)
    {
        using var _ = working;
        var ct = _stopping.Token;
        Activity.Current = null;
        using var activity = FleetTelemetry.ActivitySource.StartActivity("runner.rebuild");
        activity?.SetTag("runner.name", next.Name);
        activity?.SetTag("runner.pool", pool.Name);
        activity?.SetTag("runner.previous", finished.Name);
        string reason;
        try
        {
            var registration = await channels.For(pool).RegisterAsync(next, pool, ct).ConfigureAwait(false);
            if (registration.GitHubRunnerId is { } id)
            {
                next = next with { GitHubRunnerId = id };
                await store.UpdateRunnerAsync(next, ct).ConfigureAwait(false);
            }

            var launch = RunnerLaunch.For(pools.FleetName, next, pool, registration);
            var made = await rebuilder.RebuildAsync(new ProvisionedRunner { ResourceId = finished.ProviderResourceId!, RunnerName = finished.Name, Endpoint = finished.ProviderEndpoint }, launch, ct).ConfigureAwait(false);
            var at = time.GetUtcNow();
            await transitions.ApplyAsync(next.Id, r => r.State == RunnerState.Requested
                ? (r with { State = RunnerState.Provisioning, CreatedAt = at, ProviderEndpoint = made.Endpoint ?? r.ProviderEndpoint }, $"rebuilt {made.ResourceId} (was {finished.Name})")
                : null, ct).ConfigureAwait(false);
            telemetry.Rebuild(pool.Name, "rebuilt");
            return;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            reason = "the controller stopped during the rebuild";
        }
        catch (Exception e)
        {
            reason = $"rebuild failed: {e.Message}";
            telemetry.Rebuild(pool.Name, "failed");
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            LogRebuildFailed(logger, finished.ProviderResourceId!, next.Name, e.Message);
        }

        // Nothing may stay Requested behind a failed rebuild: the record fails and its machine and registration go.
        using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            var failed = await transitions.FailAsync(next.Id, reason, time.GetUtcNow(), cleanup.Token).ConfigureAwait(false) ?? next;
            await destroy(failed, cleanup.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The reaper (a Requested record of nobody's) or the reconciler (an orphan machine) finishes it.
            LogCleanupFailed(logger, next.Name, e.Message);
        }
    }

    /// <summary>The pool and provider that may rebuild the finished runner's machine now, or null.</summary>
    private (PoolDefinition Pool, IRebuildingProvider Rebuilder)? Rebuildable(RunnerRecord r, DateTimeOffset now) =>
        providers.TryGet(r.Provider, out var provider) && provider is IRebuildingProvider rebuilder
        && pools.Find(r.Pool) is { } pool && string.Equals(pool.Provider, r.Provider, StringComparison.OrdinalIgnoreCase)
        && (r.BilledSince ?? r.CreatedAt) is { } billedSince && rebuilder.MayRebuild(pool, billedSince, now)
        && (rebuilder.RebuildServesWholePool(pool) || r.Scope.Contains('/', StringComparison.Ordinal))
            ? (pool, rebuilder)
            : null;

    /// <summary>Why the runner's machine is not to be handed over, or null when it may be.</summary>
    private async Task<string?> WhyNotAsync(RunnerRecord r, CancellationToken ct)
    {
        if (r.State != RunnerState.Destroying || r.ProviderResourceId is null || (r.JobId is null && r.BusyAt is null))
        {
            return "not a finished job";
        }

        if (Rebuildable(r, time.GetUtcNow()) is not var (pool, _))
        {
            return "reuse is off for its pool, too little of its paid hour is left, or it is registered to an organization (ReuseFor: pool allows that)";
        }

        if ((await store.ListDrainedPoolsAsync(ct).ConfigureAwait(false)).Contains(pool.Name))
        {
            return "the pool is drained";
        }

        var active = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
        var live = active.Where(x => RunnerStateMachine.IsLive(x.State)).ToList();
        if (live.Count(x => string.Equals(x.Pool, pool.Name, StringComparison.OrdinalIgnoreCase)) >= pool.MaxRunners
            || (fleetOptions.Value.MaxRunners is { } fleetMax && live.Count >= fleetMax))
        {
            return "the pool or the fleet is full";
        }

        if ((pool.DailyBudget ?? fleetOptions.Value.DailyBudget) is not null && !await HourFitsTodayAsync(pool, r, active, ct).ConfigureAwait(false))
        {
            return "today's spending cap has no hour left (a job on the rebuilt machine could run into one)";
        }

        if (await store.FindJobByRunnerAsync(r.Name, ct).ConfigureAwait(false) is not { } job)
        {
            return "its job is unknown";
        }

        // Every policy must say the job did not come from a fork, and at least one must have been asked.
        var verdicts = new List<bool?>();
        foreach (var policy in _policies)
        {
            verdicts.Add(await policy.CameFromForkAsync(job, ct).ConfigureAwait(false));
        }

        return verdicts.Count > 0 && verdicts.All(v => v == false) ? null : "its job came from a fork pull request, or its origin is unknown";
    }

    /// <summary>Whether one more hour of the machine fits under the pool's and the fleet's daily caps, as a new paid runner must.</summary>
    private async Task<bool> HourFitsTodayAsync(PoolDefinition pool, RunnerRecord finished, IReadOnlyList<RunnerRecord> active, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var settled = await store.CostByPoolAsync(new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero), ct).ConfigureAwait(false);
        var prices = active.Append(finished).Where(x => x.HourlyPrice is not null).GroupBy(x => x.Pool, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.Max(x => x.HourlyPrice!.Value), StringComparer.OrdinalIgnoreCase);
        var verdict = SpendingCaps.Evaluate(pools.Pools, fleetOptions.Value.DailyBudget, settled, active, prices, now);
        return verdict.PoolAllowed.GetValueOrDefault(pool.Name) is not 0 && verdict.FleetAllowed is not 0;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Machine of runner {RunnerName} not handed over: {Reason}")]
    private static partial void LogNotReused(ILogger logger, string runnerName, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rebuild of machine {ResourceId} for runner {RunnerName} failed: {Error}; the machine is deleted")]
    private static partial void LogRebuildFailed(ILogger logger, string resourceId, string runnerName, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Clean-up after the failed rebuild for runner {RunnerName} incomplete ({Error}); the reaper or the reconciler will finish it")]
    private static partial void LogCleanupFailed(ILogger logger, string runnerName, string error);
}
