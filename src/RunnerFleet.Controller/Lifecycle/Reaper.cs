using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Tears runners down: when their resource exits (the runner took its job and finished, or died), when
/// their job is reported completed, and when the planner retires them (timeouts). Teardown is
/// Destroying → provider destroy → GitHub runner delete (never a busy one) → Gone.
/// </summary>
internal sealed partial class Reaper(
    IFleetStore store,
    RunnerTransitions transitions,
    RunnerChannels channels,
    RunnerProviders providers,
    CrashPoints crashPoints,
    ControllerNode node,
    ProvisionsInFlight inFlight,
    IFleetSignals signals,
    FleetTelemetry telemetry,
    ServerReuse reuse,
    Caching.RunnerCaches caches,
    TimeProvider time,
    ILogger<Reaper> logger)
{
    /// <summary>How long a Completed runner's resource may keep running (its listener tidying up) before it is destroyed anyway.</summary>
    public TimeSpan CompletedGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A resource missing for a record created this recently may simply not be listed yet.</summary>
    public TimeSpan MissingGrace { get; set; } = TimeSpan.FromSeconds(30);

    // Records requested before this process started, by no controller we know, belong to a controller that is gone.
    private readonly DateTimeOffset _started = time.GetUtcNow();

    public async Task ReapAsync(CancellationToken ct)
    {
        var records = await store.ListActiveRunnersAsync(ct).ConfigureAwait(false);
        if (records.Count == 0)
        {
            return;
        }

        var inventory = new Dictionary<string, ProvisionedRunner>(StringComparer.Ordinal);
        var unreachable = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var listedAt = new Dictionary<string, DateTimeOffset>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in providers.All.Where(p => records.Any(r => string.Equals(r.Provider, p.Kind, StringComparison.OrdinalIgnoreCase))))
        {
            try
            {
                // Read before the list: a list another reader refreshes meanwhile is only newer than this says.
                var asOf = provider.ListedAt;
                await foreach (var res in provider.ListAsync(ct).ConfigureAwait(false))
                {
                    inventory[res.RunnerName] = res;
                }

                listedAt[provider.Kind] = asOf ?? provider.ListedAt ?? time.GetUtcNow();
            }
            catch (ProviderException e)
            {
                // Decide nothing about a provider we cannot see.
                unreachable.Add(provider.Kind);
                LogProviderUnreachable(logger, provider.Kind, e.Message);
            }
        }

        var now = time.GetUtcNow();
        var live = records.Any(r => r.State == RunnerState.Requested)
            ? await store.ListLiveNodesAsync(now - ControllerNode.Silence, ct).ConfigureAwait(false)
            : new HashSet<string>();

        // Requested: a provision in progress, unless the controller doing it is gone (crashed, or a killed cluster
        // node), or it is this controller and the provision is no longer running (it died half-way).
        bool Orphaned(RunnerRecord r) => r.Owner is null ? r.RequestedAt < _started
            : r.Owner == node.Id ? !inFlight.Contains(r.Id) && now - r.RequestedAt > MissingGrace
            : !live.Contains(r.Owner);

        foreach (var r in records.Where(r => !unreachable.Contains(r.Provider)))
        {
            inventory.TryGetValue(r.Name, out var res);
            var exited = res?.Status == ProvisionedStatus.Exited;
            // Missing: not in a list read after the record's resource was made (a shared list may be older than a
            // server another controller made), and not just made.
            var madeAt = r.CreatedAt ?? r.RequestedAt;
            var missing = res is null && now - madeAt > MissingGrace && listedAt.GetValueOrDefault(r.Provider, now) > madeAt;
            try
            {
                switch (r.State)
                {
                    case RunnerState.Completed when exited || res is null || now - (r.CompletedAt ?? now) > CompletedGrace:
                    case RunnerState.Destroying:
                        await TeardownAsync(r, ct).ConfigureAwait(false);
                        break;
                    case RunnerState.Provisioning or RunnerState.Idle or RunnerState.Busy when exited || missing:
                        await OnExitAsync(r, res, ct).ConfigureAwait(false);
                        break;
                    case RunnerState.Requested when res is { Status: ProvisionedStatus.Created } && Orphaned(r):
                        // A resource created but never started (its controller died in between: a container) will not
                        // start by itself. (A server that is still booting will: it is adopted below.) Fail it and clean up.
                        if (await transitions.FailAsync(r.Id, "the controller stopped before the runner started", now, ct).ConfigureAwait(false) is { } stopped)
                        {
                            await DestroyResourcesAsync(stopped with { ProviderResourceId = stopped.ProviderResourceId ?? res.ResourceId, ProviderEndpoint = stopped.ProviderEndpoint ?? res.Endpoint }, ct).ConfigureAwait(false);
                        }

                        break;
                    case RunnerState.Requested when res is not null && Orphaned(r):
                        // A controller died between create and recording it: adopt the resource.
                        await transitions.ApplyAsync(r.Id, x => x.State == RunnerState.Requested
                            ? (x with { State = RunnerState.Provisioning, CreatedAt = x.CreatedAt ?? now, ProviderResourceId = res.ResourceId, ProviderEndpoint = res.Endpoint, HourlyPrice = x.HourlyPrice ?? res.HourlyPrice, BilledSince = x.BilledSince ?? res.BilledSince }, "adopted after a controller restart")
                            : null, ct).ConfigureAwait(false);
                        break;
                    case RunnerState.Requested when res is null && Orphaned(r):
                        // A controller died before its provider made anything: nothing will come of it.
                        if (await transitions.FailAsync(r.Id, "the controller stopped before the runner was created", now, ct).ConfigureAwait(false) is { } failed)
                        {
                            await DestroyResourcesAsync(failed, ct).ConfigureAwait(false);
                        }

                        break;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // One runner's failure (an engine error, GitHub down, a timeout) must not stop the others' teardown.
                LogTeardownFailed(logger, r.Name, e.Message);
            }
        }
    }

    /// <summary>Executes a planner retirement.</summary>
    public async Task RetireAsync(Retirement retirement, CancellationToken ct)
    {
        if (await store.GetRunnerAsync(retirement.RunnerId, ct).ConfigureAwait(false) is not { } r || !RunnerStateMachine.IsLive(r.State))
        {
            return;
        }

        if (retirement.Fails)
        {
            var failed = await transitions.FailAsync(r.Id, retirement.Reason, time.GetUtcNow(), ct).ConfigureAwait(false);
            if (failed is not null)
            {
                await DestroyResourcesAsync(failed, ct).ConfigureAwait(false);
            }

            return;
        }

        if (r.State != RunnerState.Idle)
        {
            return;
        }

        // GitHub may have given the idle runner a job a moment ago: its GitHub identity goes first, and GitHub keeps a
        // busy one (422), so a runner that just took a job keeps its machine; its job's events will say so.
        var deregistered = false;
        if (r.GitHubRunnerId is not null && channels.ForPool(r.Pool) is ({ } pool, { } channel))
        {
            if (!await channel.DeregisterAsync(r, pool, ct).ConfigureAwait(false))
            {
                LogTookJobAsRetired(logger, r.Name);
                return;
            }

            deregistered = true;
        }

        var destroying = await transitions.ApplyAsync(r.Id, x => x.State == RunnerState.Idle ? (x with { State = RunnerState.Destroying }, retirement.Reason) : null, ct).ConfigureAwait(false);
        if (destroying?.State == RunnerState.Destroying)
        {
            await TeardownAsync(destroying, ct, deregistered).ConfigureAwait(false);
        }
    }

    private async Task OnExitAsync(RunnerRecord r, ProvisionedRunner? res, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var tookJob = r.JobId is not null || r.State == RunnerState.Busy;
        if (!tookJob && channels.ForPool(r.Pool) is ({ } pool, { } channel))
        {
            // An ephemeral runner is de-registered by GitHub after its one job: gone means it ran one.
            tookJob = await channel.IsDeregisteredAsync(r, pool, ct).ConfigureAwait(false) == true;
        }

        if (tookJob)
        {
            // Its job's events may have come while the record still said Requested (a job faster than the
            // record's own update) and been set aside: the job sources stored the runner's name on the job.
            var job = r.JobId is null ? await store.FindJobByRunnerAsync(r.Name, ct).ConfigureAwait(false) : null;
            var completed = await transitions.ApplyAsync(r.Id, x => RunnerStateMachine.IsLive(x.State) && x.State != RunnerState.Requested
                ? (x with
                {
                    State = RunnerState.Completed,
                    JobId = x.JobId ?? job?.Id,
                    BusyAt = x.BusyAt ?? job?.StartedAt,
                    CompletedAt = x.CompletedAt ?? job?.CompletedAt ?? now,
                    OnlineAt = x.OnlineAt ?? x.BusyAt ?? job?.StartedAt,
                }, res is null ? "resource gone after its job" : $"runner exited ({res.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"})")
                : null, ct).ConfigureAwait(false);
            if (completed is not null)
            {
                await TeardownAsync(completed, ct).ConfigureAwait(false);
            }

            return;
        }

        var reason = res is null ? "its resource disappeared before it took a job" : $"runner exited (code {res.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"}) without taking a job";
        var failed = await transitions.FailAsync(r.Id, reason, now, ct).ConfigureAwait(false);
        if (failed is not null)
        {
            await DestroyResourcesAsync(failed, ct).ConfigureAwait(false);
        }
    }

    /// <param name="deregistered">Its GitHub identity was already removed (an idle runner retired).</param>
    private async Task TeardownAsync(RunnerRecord r, CancellationToken ct, bool deregistered = false)
    {
        if (r.State != RunnerState.Destroying)
        {
            r = await transitions.ApplyAsync(r.Id, x => x.State == RunnerState.Completed ? (x with { State = RunnerState.Destroying }, "teardown") : null, ct).ConfigureAwait(false) ?? r;
            if (r.State != RunnerState.Destroying)
            {
                return;
            }
        }

        crashPoints.Reached(CrashPoints.DuringTeardown);

        // A machine whose paid hour has room left may be handed to a new runner and rebuilt for it instead (ServerReuse
        // says when; the rebuild runs on its own, and a failed one is destroyed like any failed runner).
        if (await reuse.TryHandOverAsync(r, (failed, token) => DestroyResourcesAsync(failed, token), ct).ConfigureAwait(false))
        {
            signals.DemandChanged();
            return;
        }

        // GitHub de-registers an ephemeral runner after its one job: no call needed for one that finished it
        // (the reconciler's ETag'd runner list catches any that lingers).
        await DestroyResourcesAsync(r, ct, deregisteredByGitHub: deregistered || ((r.JobId is not null || r.BusyAt is not null) && r.CompletedAt is not null)).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var gone = await transitions.ApplyAsync(r.Id, x => x.State == RunnerState.Destroying ? (x with { State = RunnerState.Gone, DestroyedAt = now, Cost = x.CostUntil(now) }, "destroyed") : null, ct).ConfigureAwait(false);
        if (gone is { State: RunnerState.Gone, Cost: > 0 })
        {
            telemetry.Cost(gone.Pool, gone.Cost);
        }

        if (gone?.State == RunnerState.Gone)
        {
            // Room in the pool: queued jobs need not wait for the next plan tick.
            signals.DemandChanged();
        }
    }

    /// <summary>Removes the resource and the GitHub runner (unless busy); stamps a Failed record destroyed. Idempotent.</summary>
    public async Task DestroyResourcesAsync(RunnerRecord r, CancellationToken ct, bool deregisteredByGitHub = false)
    {
        if (providers.TryGet(r.Provider, out var provider))
        {
            await provider.DestroyAsync(new ProvisionedRunner { ResourceId = r.ProviderResourceId ?? r.Name, RunnerName = r.Name, Endpoint = r.ProviderEndpoint }, ct).ConfigureAwait(false);
        }

        // With its resource gone, nothing writes to the runner's cache layer: merged when its job is trusted, else thrown away.
        await caches.SettleAsync(r, ct).ConfigureAwait(false);

        // The pool's channel removes the runner's GitHub identity; one still running a job is kept.
        if (!deregisteredByGitHub && r.GitHubRunnerId is not null && channels.ForPool(r.Pool) is ({ } pool, { } channel)
            && !await channel.DeregisterAsync(r, pool, ct).ConfigureAwait(false))
        {
            LogBusyKept(logger, r.Name);
        }

        if (r.State == RunnerState.Failed)
        {
            var now = time.GetUtcNow();
            var destroyed = r with { DestroyedAt = now, Cost = r.CostUntil(now) };
            await store.UpdateRunnerAsync(destroyed, ct).ConfigureAwait(false);
            if (destroyed.Cost > 0)
            {
                telemetry.Cost(destroyed.Pool, destroyed.Cost);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Runner {Runner} took a job as it was being retired: GitHub keeps it, and so does its machine")]
    private static partial void LogTookJobAsRetired(ILogger logger, string runner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provider {Provider} unreachable; its runners are left as they are this round: {Error}")]
    private static partial void LogProviderUnreachable(ILogger logger, string provider, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Teardown of runner {RunnerName} incomplete: {Error}; retrying next round")]
    private static partial void LogTeardownFailed(ILogger logger, string runnerName, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GitHub runner {RunnerName} is busy; not deleted (GitHub removes it when its job ends)")]
    private static partial void LogBusyKept(ILogger logger, string runnerName);
}
