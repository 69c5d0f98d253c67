using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;

namespace RunnerFleet.Controller.Lifecycle;

/// <summary>
/// Store × provider inventory × GitHub runner list: destroys resources no live record owns (found by this
/// fleet's labels) and deletes this fleet's GitHub runners that no live record owns (never a busy one).
/// Runs at start, so a restarted controller cleans what its predecessor left, and periodically.
/// </summary>
internal sealed partial class Reconciler(
    IFleetStore store,
    RunnerProviders providers,
    GitHubApiClient github,
    RunnerTracker tracker,
    IOptions<GitHubOptions> githubOptions,
    IOptions<FleetOptions> fleetOptions,
    TimeProvider time,
    ILogger<Reconciler> logger)
{
    public async Task<ReconcileResult> ReconcileAsync(CancellationToken ct)
    {
        // Final records past the retention go first: the store does not grow for ever.
        if (await store.PruneAsync(time.GetUtcNow() - fleetOptions.Value.Retention, ct).ConfigureAwait(false) is > 0 and var pruned)
        {
            LogPruned(logger, pruned, fleetOptions.Value.Retention.TotalDays);
        }

        var active = (await store.ListActiveRunnersAsync(ct).ConfigureAwait(false)).ToDictionary(r => r.Name, StringComparer.Ordinal);
        var orphans = 0;
        foreach (var provider in providers.All)
        {
            var resources = new List<ProvisionedRunner>();
            try
            {
                await foreach (var res in provider.ListAsync(ct).ConfigureAwait(false))
                {
                    resources.Add(res);
                }
            }
            catch (ProviderException e)
            {
                LogProviderUnreachable(logger, provider.Kind, e.Message);
                continue;
            }

            // A machine rebuilt for a new runner may still carry its previous runner's name in a list read before: the
            // live record holding its id owns it.
            var held = active.Values.Where(r => r.ProviderResourceId is not null && string.Equals(r.Provider, provider.Kind, StringComparison.OrdinalIgnoreCase))
                .Select(r => r.ProviderResourceId!).ToHashSet(StringComparer.Ordinal);
            foreach (var res in resources.Where(r => !active.ContainsKey(r.RunnerName) && !held.Contains(r.ResourceId)))
            {
                // Records are written before resources, so a resource with no record is an orphan; re-read to not race a provision that started after the snapshot.
                var record = await store.FindRunnerByNameAsync(res.RunnerName, ct).ConfigureAwait(false);
                if (record is not null && !RunnerStateMachine.IsFinal(record.State))
                {
                    continue;
                }

                LogOrphan(logger, res.RunnerName, provider.Kind, record?.State.ToString() ?? "no record");
                await provider.DestroyAsync(res, ct).ConfigureAwait(false);
                orphans++;
            }
        }

        var ghosts = 0;
        var gh = githubOptions.Value;
        var scopes = gh.Organizations.Concat(gh.Repositories.Where(r => !gh.Organizations.Contains(r.Split('/')[0], StringComparer.OrdinalIgnoreCase)))
            .Concat(active.Values.Select(r => r.Scope))
            .Distinct(StringComparer.OrdinalIgnoreCase);
        foreach (var scope in scopes)
        {
            IReadOnlyList<GitHubRunner> runners;
            try
            {
                runners = await github.ListRunnersAsync(scope, ct).ConfigureAwait(false);
            }
            catch (GitHubApiException e)
            {
                LogGitHubUnreachable(logger, scope, e.Message);
                continue;
            }

            await tracker.OnRunnersAsync(runners, ct).ConfigureAwait(false);
            foreach (var ghost in runners.Where(r => tracker.IsOurs(r.Name) && !r.Busy && !active.ContainsKey(r.Name)))
            {
                if (await store.FindRunnerByNameAsync(ghost.Name, ct).ConfigureAwait(false) is { } record && !RunnerStateMachine.IsFinal(record.State))
                {
                    continue;
                }

                if (await github.DeleteRunnerAsync(scope, ghost.Id, ct).ConfigureAwait(false))
                {
                    LogGhost(logger, ghost.Name, scope);
                    ghosts++;
                }
            }
        }

        return new ReconcileResult(orphans, ghosts);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reconcile: deleted {Rows} final records older than {Days:F0} days (Fleet:Retention)")]
    private static partial void LogPruned(ILogger logger, int rows, double days);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconcile: destroyed {Provider} resource of runner {RunnerName} that no live record owns ({RecordState})")]
    private static partial void LogOrphan(ILogger logger, string runnerName, string provider, string recordState);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconcile: deleted GitHub runner {RunnerName} in {Scope} that has no resource behind it")]
    private static partial void LogGhost(ILogger logger, string runnerName, string scope);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconcile: provider {Provider} unreachable: {Error}")]
    private static partial void LogProviderUnreachable(ILogger logger, string provider, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reconcile: GitHub runners of {Scope} unavailable: {Error}")]
    private static partial void LogGitHubUnreachable(ILogger logger, string scope, string error);
}

/// <summary>What one reconcile fixed.</summary>
internal sealed record ReconcileResult(int OrphanResources, int GhostRunners);
