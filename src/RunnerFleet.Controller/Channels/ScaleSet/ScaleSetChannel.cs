using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.GitHub.ScaleSets;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.ScaleSet;

/// <summary>
/// A runner scale set: GitHub assigns the jobs whose <c>runs-on</c> is the set's name to the set, and its
/// listener hears of them (<see cref="ScaleSetListener"/>); runners get the set's JIT configs and are removed
/// through the Actions service (never while they run a job).
/// </summary>
internal sealed class ScaleSetChannel(ActionsServiceClient actions, GitHubApiClient github, RunnerReleases releases, ScaleSetRegistry registry, PoolCatalog pools) : IRunnerChannel
{
    /// <summary>The channel's name, as pools name it (<c>Discovery: ScaleSet</c>).</summary>
    public const string KindName = "ScaleSet";

    private readonly HashSet<string> _names = new(
        pools.Pools.Where(p => string.Equals(p.Channel, KindName, StringComparison.OrdinalIgnoreCase)).Select(p => p.ChannelSettingsAs<ScaleSetChannelSettings>().NameFor(p.Name)),
        StringComparer.OrdinalIgnoreCase);

    public string Kind => KindName;

    public async Task<RunnerRegistration> RegisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct)
    {
        using var activity = FleetTelemetry.ActivitySource.StartActivity("runner.register.jit");
        // Only runners of the pool's scale set get the jobs GitHub assigns to it.
        var (scope, scaleSetId) = registry.Find(pool.Name)
            ?? throw new ProviderException("scale_set_unknown", $"the scale set {pool.ChannelSettingsAs<ScaleSetChannelSettings>().NameFor(pool.Name)} of pool {pool.Name} is not known yet (its listener has not started)");
        var config = await actions.GenerateJitConfigAsync(scope, scaleSetId, runner.Name, ct).ConfigureAwait(false);
        return new RunnerRegistration { GitHubRunnerId = config.Runner.Id, JitConfig = config.EncodedJitConfig, RegisteredAt = scope, Packages = pool.Traits.InstallsRunner ? await releases.LinuxAsync(runner.Scope, ct).ConfigureAwait(false) : [] };
    }

    public async Task<bool> DeregisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct) =>
        runner.GitHubRunnerId is not { } agent || registry.Find(pool.Name) is not { } set
        || await actions.RemoveRunnerAsync(set.Scope, agent, ct).ConfigureAwait(false);

    public async Task<bool?> IsDeregisteredAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct) =>
        runner.GitHubRunnerId is { } id ? await github.GetRunnerAsync(runner.Scope, id, ct).ConfigureAwait(false) is null : null;

    /// <summary>A job whose only label (besides self-hosted) is a scale set's name: GitHub gives it to that scale set.</summary>
    public bool Claims(JobRecord job) =>
        job.Labels.Where(l => !string.Equals(l, LabelMatcher.SelfHosted, StringComparison.OrdinalIgnoreCase)).ToList() is [var only] && _names.Contains(only);
}
