using System.Net;
using Microsoft.Extensions.Options;
using RunnerFleet.Controller.Configuration;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Telemetry;

namespace RunnerFleet.Controller.Channels.Rest;

/// <summary>
/// Workflow jobs from REST polling and <c>workflow_job</c> webhooks, matched to pools by labels; runners
/// registered with a JIT config (default) or a registration token, removed through the REST API.
/// </summary>
internal sealed class RestChannel(GitHubApiClient github, RunnerReleases releases, IOptions<GitHubOptions> options) : IRunnerChannel
{
    /// <summary>The channel's name, as pools name it (<c>Discovery: Jobs</c>, the default).</summary>
    public const string KindName = "Jobs";

    public string Kind => KindName;

    public async Task<RunnerRegistration> RegisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct)
    {
        var settings = pool.ChannelSettingsAs<RestChannelSettings>();
        using var activity = FleetTelemetry.ActivitySource.StartActivity(settings.Mode == RegistrationMode.Jit ? "runner.register.jit" : "runner.register.token");
        if (settings.Mode == RegistrationMode.Jit)
        {
            var request = new JitConfigRequest(runner.Name, settings.RunnerGroupId, pool.Labels, "_work");
            JitConfigResponse jit;
            try
            {
                jit = await github.GenerateJitConfigAsync(runner.Scope, request, ct).ConfigureAwait(false);
            }
            catch (GitHubApiException e) when (e.Status == HttpStatusCode.Conflict)
            {
                // generate-jitconfig is not idempotent: a call retried after a 5xx can meet the runner its first attempt
                // made (409, name taken). Its config was lost with that answer, so it can never start: remove it and
                // register again, rather than failing and leaving it registered.
                if (await github.FindRunnerByNameAsync(runner.Scope, runner.Name, ct).ConfigureAwait(false) is not { Busy: false } orphan
                    || !await github.DeleteRunnerAsync(runner.Scope, orphan.Id, ct).ConfigureAwait(false))
                {
                    throw;
                }

                jit = await github.GenerateJitConfigAsync(runner.Scope, request, ct).ConfigureAwait(false);
            }

            return new RunnerRegistration { GitHubRunnerId = jit.Runner.Id, JitConfig = jit.EncodedJitConfig, Packages = pool.Traits.InstallsRunner ? await releases.LinuxAsync(runner.Scope, ct).ConfigureAwait(false) : [] };
        }

        var token = await github.CreateRegistrationTokenAsync(runner.Scope, ct).ConfigureAwait(false);
        return new RunnerRegistration
        {
            RegistrationToken = token.Token, RegistrationUrl = new Uri(options.Value.EffectiveWebUrl, runner.Scope), Packages = pool.Traits.InstallsRunner ? await releases.LinuxAsync(runner.Scope, ct).ConfigureAwait(false) : [],
        };
    }

    public async Task<bool> DeregisterAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct)
    {
        if (runner.GitHubRunnerId is not { } id || await github.GetRunnerAsync(runner.Scope, id, ct).ConfigureAwait(false) is not { } gh)
        {
            return true;
        }

        // A busy runner is never deleted: GitHub removes an ephemeral one when its job ends.
        return !gh.Busy && await github.DeleteRunnerAsync(runner.Scope, id, ct).ConfigureAwait(false);
    }

    public async Task<bool?> IsDeregisteredAsync(RunnerRecord runner, PoolDefinition pool, CancellationToken ct) =>
        runner.GitHubRunnerId is { } id ? await github.GetRunnerAsync(runner.Scope, id, ct).ConfigureAwait(false) is null : null;

    /// <summary>Its own jobs are those its sources see; it claims none from elsewhere.</summary>
    public bool Claims(JobRecord job) => false;
}
