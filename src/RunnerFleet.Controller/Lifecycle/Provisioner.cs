using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RunnerFleet.Controller.Caching;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Makes one runner: record (Requested) → GitHub registration (JIT config or registration token) →
/// provider create → record (Provisioning). The record is written before each step, so a crash leaves
/// something the reconciler can finish; a failure marks it Failed and cleans up what was made.
/// </summary>
internal sealed partial class Provisioner(
    IFleetStore store,
    RunnerTransitions transitions,
    RunnerChannels channels,
    RunnerProviders providers,
    Reaper reaper,
    CrashPoints crashPoints,
    PoolCatalog pools,
    ControllerNode node,
    ProvisionsInFlight inFlight,
    RunnerCaches caches,
    FleetTelemetry telemetry,
    TimeProvider time,
    ILogger<Provisioner> logger)
{
    public async Task<ProvisionResult> ProvisionAsync(PoolDefinition pool, string scope, CancellationToken ct)
    {
        var record = new RunnerRecord
        {
            Id = Guid.CreateVersion7().ToString("N"),
            Name = RunnerNames.Create(pools.FleetName, pool.Name),
            Pool = pool.Name,
            Provider = pool.Provider,
            Scope = scope,
            State = RunnerState.Requested,
            RequestedAt = time.GetUtcNow(),
            Owner = node.Id,
        };
        // The root of the runner's lifecycle trace: registration and create now, boot, job and teardown as they happen.
        Activity.Current = null;
        using var activity = FleetTelemetry.ActivitySource.StartActivity("runner.provision");
        activity?.SetTag("runner.name", record.Name);
        activity?.SetTag("runner.pool", pool.Name);
        activity?.SetTag("runner.provider", pool.Provider);
        record = record with { TraceParent = activity?.Id };
        using var scopeLog = logger.BeginScope(new Dictionary<string, object> { ["RunnerName"] = record.Name, ["Pool"] = pool.Name });
        using var working = inFlight.Begin(record.Id);
        await store.InsertRunnerAsync(record, ct).ConfigureAwait(false);

        var registered = false;
        try
        {
            var launch = await RegisterAsync(record, pool, ct).ConfigureAwait(false);
            record = launch.Record;
            registered = true;
            crashPoints.Reached(CrashPoints.AfterRegistration);
            var provider = providers.Get(pool.Provider);
            ProvisionedRunner made;
            using (var create = FleetTelemetry.ActivitySource.StartActivity("runner.create"))
            {
                made = await provider.CreateAsync(launch.Launch, ct).ConfigureAwait(false);
                create?.SetTag("runner.resource", made.ResourceId);
                create?.SetTag("runner.endpoint", made.Endpoint);
            }

            crashPoints.Reached(CrashPoints.AfterCreate);
            var now = time.GetUtcNow();
            var provisioned = await transitions.ApplyAsync(record.Id, r => r.State == RunnerState.Requested
                ? (r with { State = RunnerState.Provisioning, CreatedAt = now, ProviderResourceId = made.ResourceId, ProviderEndpoint = made.Endpoint, HourlyPrice = made.HourlyPrice, BilledSince = made.BilledSince }, $"created {made.ResourceId[..Math.Min(12, made.ResourceId.Length)]} on {made.Endpoint}")
                : (r with { CreatedAt = r.CreatedAt ?? now, ProviderResourceId = made.ResourceId, ProviderEndpoint = made.Endpoint, HourlyPrice = made.HourlyPrice, BilledSince = made.BilledSince }, "created"), ct).ConfigureAwait(false) ?? record;
            return new ProvisionResult(provisioned, null);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopped half-way (the controller is stopping): nothing may stay Requested behind us with a live owner.
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            var stopped = await transitions.FailAsync(record.Id, "provisioning was cancelled", time.GetUtcNow(), cleanup.Token).ConfigureAwait(false) ?? record;
            await CleanUpAsync(stopped, cleanup.Token).ConfigureAwait(false);
            throw;
        }
        catch (Exception e)
        {
            // A registration failure is GitHub's (its client already retried as GitHub asks); a provider names its own.
            var code = e is ProviderException pe ? pe.Code : !registered ? "github" : "error";
            telemetry.ProviderError(pool.Provider, code);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            LogFailed(logger, record.Name, pool.Name, e.Message);
            var failed = await transitions.FailAsync(record.Id, $"provisioning failed: {e.Message}", time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false) ?? record;
            await CleanUpAsync(failed, CancellationToken.None).ConfigureAwait(false);
            return new ProvisionResult(failed, code);
        }
    }

    /// <summary>The pool's channel registers the runner with GitHub; a GitHub id it learns is stored before anything is created.</summary>
    private async Task<(RunnerRecord Record, RunnerLaunch Launch)> RegisterAsync(RunnerRecord record, PoolDefinition pool, CancellationToken ct)
    {
        var registration = await channels.For(pool).RegisterAsync(record, pool, ct).ConfigureAwait(false);
        if (registration.GitHubRunnerId is { } id)
        {
            record = record with { GitHubRunnerId = id };
            await store.UpdateRunnerAsync(record, ct).ConfigureAwait(false);
        }

        // Its warm-cache layer, for the scope GitHub registered it at: that decides whose jobs it may get, so whose cache it may read.
        var mounts = await caches.PrepareAsync(record, pool, registration.RegisteredAt ?? record.Scope, ct).ConfigureAwait(false);
        return (record, RunnerLaunch.For(pools.FleetName, record, pool, registration, mounts));
    }

    private async Task CleanUpAsync(RunnerRecord record, CancellationToken ct)
    {
        try
        {
            await reaper.DestroyResourcesAsync(record, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever failed (an engine error, a timeout), the reconciler removes what is left: resources and GitHub runners without a live record.
            LogCleanupFailed(logger, record.Name, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provisioning runner {RunnerName} in pool {Pool} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string runnerName, string pool, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Clean-up after failed runner {RunnerName} incomplete ({Error}); the reconciler will finish it")]
    private static partial void LogCleanupFailed(ILogger logger, string runnerName, string error);
}

/// <summary>The runner as provisioned, and the provider's error code when it failed.</summary>
internal sealed record ProvisionResult(RunnerRecord Runner, string? ErrorCode);
