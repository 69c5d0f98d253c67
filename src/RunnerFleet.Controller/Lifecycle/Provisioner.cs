using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Makes one runner: record (Requested) → GitHub registration (JIT config or registration token) →
/// provider create → record (Provisioning). The record is written before each step, so a crash leaves
/// something the reconciler can finish; a failure marks it Failed and cleans up what was made.
/// </summary>
public sealed partial class Provisioner(
    IFleetStore store,
    RunnerTransitions transitions,
    GitHubApiClient github,
    RunnerProviders providers,
    Reaper reaper,
    CrashPoints crashPoints,
    PoolCatalog pools,
    ControllerNode node,
    ScaleSetRegistry scaleSets,
    ActionsServiceClient actions,
    IOptions<GitHubOptions> githubOptions,
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
        await store.InsertRunnerAsync(record, ct).ConfigureAwait(false);

        try
        {
            var launch = await RegisterAsync(record, pool, ct).ConfigureAwait(false);
            record = launch.Record;
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
                ? (r with { State = RunnerState.Provisioning, CreatedAt = now, ProviderResourceId = made.ResourceId, ProviderEndpoint = made.Endpoint, HourlyPrice = made.HourlyPrice }, $"created {made.ResourceId[..Math.Min(12, made.ResourceId.Length)]} on {made.Endpoint}")
                : (r with { CreatedAt = r.CreatedAt ?? now, ProviderResourceId = made.ResourceId, ProviderEndpoint = made.Endpoint, HourlyPrice = made.HourlyPrice }, "created"), ct).ConfigureAwait(false) ?? record;
            return new ProvisionResult(provisioned, null);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var code = e is ProviderException pe ? pe.Code : e is GitHubApiException or ActionsServiceException ? "github" : "error";
            telemetry.ProviderError(pool.Provider, code);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            LogFailed(logger, record.Name, pool.Name, e.Message);
            var failed = await transitions.FailAsync(record.Id, $"provisioning failed: {e.Message}", time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false) ?? record;
            await CleanUpAsync(failed, CancellationToken.None).ConfigureAwait(false);
            return new ProvisionResult(failed, code);
        }
    }

    private async Task<(RunnerRecord Record, RunnerLaunch Launch)> RegisterAsync(RunnerRecord record, PoolDefinition pool, CancellationToken ct)
    {
        using var activity = FleetTelemetry.ActivitySource.StartActivity(pool.Registration == RegistrationMode.Jit ? "runner.register.jit" : "runner.register.token");
        if (pool.Discovery == JobDiscovery.ScaleSet)
        {
            // A runner of the pool's scale set: only such runners get the jobs GitHub assigns to it.
            var (scope, scaleSetId) = scaleSets.Find(pool.Name) ?? throw new ProviderException("scale_set_unknown", $"the scale set {pool.ScaleSetName} of pool {pool.Name} is not known yet (its listener has not started)");
            var config = await actions.GenerateJitConfigAsync(scope, scaleSetId, record.Name, ct).ConfigureAwait(false);
            record = record with { GitHubRunnerId = config.Runner.Id };
            await store.UpdateRunnerAsync(record, ct).ConfigureAwait(false);
            return (record, new RunnerLaunch { Fleet = pools.FleetName, Name = record.Name, Pool = pool, JitConfig = config.EncodedJitConfig });
        }

        if (pool.Registration == RegistrationMode.Jit)
        {
            var jit = await github.GenerateJitConfigAsync(record.Scope, new JitConfigRequest(record.Name, pool.RunnerGroupId, pool.Labels, "_work"), ct).ConfigureAwait(false);
            record = record with { GitHubRunnerId = jit.Runner.Id };
            await store.UpdateRunnerAsync(record, ct).ConfigureAwait(false);
            return (record, new RunnerLaunch { Fleet = pools.FleetName, Name = record.Name, Pool = pool, JitConfig = jit.EncodedJitConfig });
        }

        var token = await github.CreateRegistrationTokenAsync(record.Scope, ct).ConfigureAwait(false);
        var url = new Uri(githubOptions.Value.EffectiveWebUrl, record.Scope);
        return (record, new RunnerLaunch { Fleet = pools.FleetName, Name = record.Name, Pool = pool, RegistrationToken = token.Token, RegistrationUrl = url });
    }

    private async Task CleanUpAsync(RunnerRecord record, CancellationToken ct)
    {
        try
        {
            await reaper.DestroyResourcesAsync(record, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ProviderException or GitHubApiException or HttpRequestException)
        {
            // The reconciler removes what is left: resources and GitHub runners without a live record.
            LogCleanupFailed(logger, record.Name, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Provisioning runner {RunnerName} in pool {Pool} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string runnerName, string pool, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Clean-up after failed runner {RunnerName} incomplete ({Error}); the reconciler will finish it")]
    private static partial void LogCleanupFailed(ILogger logger, string runnerName, string error);
}

/// <summary>The runner as provisioned, and the provider's error code when it failed.</summary>
public sealed record ProvisionResult(RunnerRecord Runner, string? ErrorCode);
