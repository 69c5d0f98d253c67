using System.Diagnostics;
using Microsoft.Extensions.Logging;
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
/// Order, for crash safety: the new record is written (Requested, holding the machine), the old one goes Gone (its cost
/// up to now), then the new runner is registered and the machine relabelled and rebuilt. A controller killed in between
/// leaves a Requested record of a dead owner: the reaper adopts the machine if it carries the new runner's label (it
/// boots with the new registration, or fails to come online and is removed) and otherwise fails the record and deletes
/// the machine by its id. A failed rebuild is returned to the caller to destroy.
/// </para>
/// </summary>
internal sealed partial class ServerReuse(
    IFleetStore store,
    RunnerTransitions transitions,
    RunnerChannels channels,
    RunnerProviders providers,
    PoolCatalog pools,
    IEnumerable<IJobPolicy> policies,
    ControllerNode node,
    ProvisionsInFlight inFlight,
    FleetTelemetry telemetry,
    TimeProvider time,
    ILogger<ServerReuse> logger)
{
    private readonly IJobPolicy[] _policies = [.. policies];

    /// <summary>
    /// Hands the finished (Destroying) runner's machine to a new runner when allowed. Null: not allowed, nothing was done
    /// (destroy it as usual). Otherwise the old record is Gone; the outcome's <see cref="ReuseOutcome.Failed"/> is the new
    /// runner when its rebuild failed (its machine is to be destroyed).
    /// </summary>
    public async Task<ReuseOutcome?> TryRebuildAsync(RunnerRecord finished, CancellationToken ct)
    {
        if (await WhyNotAsync(finished, ct).ConfigureAwait(false) is { } why)
        {
            LogNotReused(logger, finished.Name, why);
            return null;
        }

        var pool = pools.Find(finished.Pool)!;
        var rebuilder = (IRebuildingProvider)providers.Get(finished.Provider);
        var now = time.GetUtcNow();
        var next = new RunnerRecord
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Name = RunnerNames.Create(pools.FleetName, pool.Name),
            Pool = pool.Name,
            Provider = pool.Provider,
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
        Activity.Current = null;
        using var activity = FleetTelemetry.ActivitySource.StartActivity("runner.rebuild");
        activity?.SetTag("runner.name", next.Name);
        activity?.SetTag("runner.pool", pool.Name);
        activity?.SetTag("runner.previous", finished.Name);
        next = next with { TraceParent = activity?.Id };
        using var working = inFlight.Begin(next.Id);
        await store.InsertRunnerAsync(next, ct).ConfigureAwait(false);

        var gone = await transitions.ApplyAsync(finished.Id, x => x.State == RunnerState.Destroying
            ? (x with { State = RunnerState.Gone, DestroyedAt = now, Cost = x.CostUntil(now) }, $"machine rebuilt for {next.Name}")
            : null, ct).ConfigureAwait(false);
        if (gone?.State != RunnerState.Gone)
        {
            // Someone else finished the old record meanwhile (another controller's reaper): give the new one up.
            await transitions.FailAsync(next.Id, "the previous runner's teardown was taken over elsewhere", time.GetUtcNow(), ct).ConfigureAwait(false);
            return new ReuseOutcome(null, null);
        }

        if (gone.Cost > 0)
        {
            telemetry.Cost(gone.Pool, gone.Cost);
        }

        try
        {
            var registration = await channels.For(pool).RegisterAsync(next, pool, ct).ConfigureAwait(false);
            if (registration.GitHubRunnerId is { } id)
            {
                next = next with { GitHubRunnerId = id };
                await store.UpdateRunnerAsync(next, ct).ConfigureAwait(false);
            }

            var launch = new RunnerLaunch
            {
                Fleet = pools.FleetName,
                Name = next.Name,
                Pool = pool,
                JitConfig = registration.JitConfig,
                RegistrationToken = registration.RegistrationToken,
                RegistrationUrl = registration.RegistrationUrl,
                Packages = registration.Packages,
            };
            var made = await rebuilder.RebuildAsync(new ProvisionedRunner { ResourceId = finished.ProviderResourceId!, RunnerName = finished.Name, Endpoint = finished.ProviderEndpoint }, launch, ct).ConfigureAwait(false);
            var at = time.GetUtcNow();
            var provisioned = await transitions.ApplyAsync(next.Id, r => r.State == RunnerState.Requested
                ? (r with { State = RunnerState.Provisioning, CreatedAt = at, ProviderEndpoint = made.Endpoint ?? r.ProviderEndpoint }, $"rebuilt {made.ResourceId} (was {finished.Name})")
                : null, ct).ConfigureAwait(false) ?? next;
            telemetry.Rebuild(pool.Name, "rebuilt");
            return new ReuseOutcome(provisioned, null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            telemetry.Rebuild(pool.Name, "failed");
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            LogRebuildFailed(logger, finished.ProviderResourceId!, next.Name, e.Message);
            var failed = await transitions.FailAsync(next.Id, $"rebuild failed: {e.Message}", time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false) ?? next;
            return new ReuseOutcome(null, failed);
        }
    }

    /// <summary>Why the runner's machine is not to be rebuilt, or null when it may be.</summary>
    private async Task<string?> WhyNotAsync(RunnerRecord r, CancellationToken ct)
    {
        if (r.State != RunnerState.Destroying || r.ProviderResourceId is null || (r.JobId is null && r.BusyAt is null)
            || !providers.TryGet(r.Provider, out var provider) || provider is not IRebuildingProvider rebuilder)
        {
            return "not a finished job on a rebuildable machine";
        }

        if (pools.Find(r.Pool) is not { } pool || (r.BilledSince ?? r.CreatedAt) is not { } billedSince)
        {
            return "no pool or billing start";
        }

        if (!rebuilder.MayRebuild(pool, billedSince, time.GetUtcNow()))
        {
            return "reuse is off, or too little of the paid hour is left";
        }

        if (!rebuilder.RebuildServesWholePool(pool) && !r.Scope.Contains('/', StringComparison.Ordinal))
        {
            return $"registered to {r.Scope}, not to one repository (ReuseFor: pool allows it)";
        }

        if ((await store.ListDrainedPoolsAsync(ct).ConfigureAwait(false)).Contains(pool.Name))
        {
            return "the pool is drained";
        }

        var live = (await store.ListActiveRunnersAsync(ct).ConfigureAwait(false)).Count(x => string.Equals(x.Pool, pool.Name, StringComparison.OrdinalIgnoreCase) && RunnerStateMachine.IsLive(x.State));
        if (live >= pool.MaxRunners)
        {
            return "the pool is full";
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

    [LoggerMessage(Level = LogLevel.Debug, Message = "Machine of runner {RunnerName} not rebuilt: {Reason}")]
    private static partial void LogNotReused(ILogger logger, string runnerName, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rebuild of machine {ResourceId} for runner {RunnerName} failed: {Error}; the machine is deleted")]
    private static partial void LogRebuildFailed(ILogger logger, string resourceId, string runnerName, string error);
}

/// <summary>
/// What a reuse did: the new runner when it was made, or the new runner whose rebuild failed (destroy its machine);
/// neither when another controller took the old runner's teardown over.
/// </summary>
internal sealed record ReuseOutcome(RunnerRecord? Rebuilt, RunnerRecord? Failed);
