using System.Globalization;
using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Controller.Providers;

/// <summary>
/// The runner's pre-job hook (<c>infra/runner-image/job-started.sh</c>) and the root-owned settings file it
/// reads. actions/runner runs the script named by <c>ACTIONS_RUNNER_HOOK_JOB_STARTED</c> before a job's first
/// step; a non-zero exit fails the job with no step run (docs.github.com: "Running scripts before or after a
/// job"). Every provider installs both files into every runner, whatever its image, so a fork pull request
/// is refused on the machine itself even when the controller never saw the job queued.
/// </summary>
internal static class RunnerHook
{
    /// <summary>Where the hook lives on a runner (root-owned, 0755).</summary>
    public const string ScriptPath = "/etc/runnerfleet/job-started.sh";

    /// <summary>The pool's decisions for the hook (root-owned, 0644). Never the environment: a workflow's <c>env:</c> reaches hooks.</summary>
    public const string SettingsPath = "/etc/runnerfleet/runner.conf";

    /// <summary>The variable actions/runner reads to find the hook.</summary>
    public const string EnvironmentVariable = "ACTIONS_RUNNER_HOOK_JOB_STARTED";

    private static readonly Lazy<string> s_script = new(() =>
    {
        using var stream = typeof(RunnerHook).Assembly.GetManifestResourceStream("RunnerFleet.job-started.sh")
            ?? throw new InvalidOperationException("the job-started hook is not embedded in the controller");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
    });

    public static string Script => s_script.Value;

    /// <summary>The settings file for a pool's runners.</summary>
    public static string Settings(PoolDefinition pool) => string.Create(CultureInfo.InvariantCulture,
        $"# Written by RunnerFleet for pool {pool.Name}; read by {ScriptPath}.\nallow_fork_pull_requests={(pool.AllowForkPullRequests ? "true" : "false")}\n");
}
