using System.Diagnostics;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Sandbox.Runner;

/// <summary>
/// A runner's pre-job hook, run the way actions/runner runs <c>ACTIONS_RUNNER_HOOK_JOB_STARTED</c>: before the
/// job's first step, with the job's <c>GITHUB_EVENT_NAME</c>, <c>GITHUB_EVENT_PATH</c> (the event payload
/// written to a file) and <c>GITHUB_REPOSITORY</c>; a non-zero exit fails the job and no step runs
/// (docs.github.com: "Running scripts before or after a job"). The script runs for real under <c>/bin/sh</c>;
/// the one liberty taken is where its settings file lives (a folder of this hook's own instead of /etc).
/// </summary>
public sealed class JobStartedHook
{
    // Where the providers put the hook and its settings (one definition, the controller's).
    private const string ScriptPath = Controller.Providers.RunnerHook.ScriptPath;
    private const string SettingsPath = Controller.Providers.RunnerHook.SettingsPath;

    private readonly string _script;
    private readonly string? _settings;

    public JobStartedHook(string script, string? settings)
    {
        _script = script;
        _settings = settings;
    }

    /// <summary>The hook a server's cloud-init user data installs, or null when it installs none.</summary>
    public static JobStartedHook? FromUserData(string? userData)
    {
        var files = HetznerSimulator.ParseWriteFiles(userData);
        return files.TryGetValue(ScriptPath, out var script) && (userData ?? string.Empty).Contains($"ACTIONS_RUNNER_HOOK_JOB_STARTED={ScriptPath}", StringComparison.Ordinal)
            ? new JobStartedHook(script, files.GetValueOrDefault(SettingsPath))
            : null;
    }

    /// <summary>Runs the hook for a job; true when it lets the job's steps run.</summary>
    public async Task<bool> AllowsAsync(string eventName, string repository, string eventJson, CancellationToken ct)
    {
        var dir = Directory.CreateTempSubdirectory("runnerfleet-hook-");
        try
        {
            var settings = Path.Combine(dir.FullName, "runner.conf");
            if (_settings is not null)
            {
                await File.WriteAllTextAsync(settings, _settings, ct).ConfigureAwait(false);
            }

            var script = Path.Combine(dir.FullName, "job-started.sh");
            await File.WriteAllTextAsync(script, _script.Replace(SettingsPath, settings, StringComparison.Ordinal), ct).ConfigureAwait(false);
            var payload = Path.Combine(dir.FullName, "event.json");
            await File.WriteAllTextAsync(payload, eventJson, ct).ConfigureAwait(false);

            var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add("-e");
            start.ArgumentList.Add(script);
            start.Environment.Clear();
            start.Environment["PATH"] = "/usr/bin:/bin";
            start.Environment["GITHUB_EVENT_NAME"] = eventName;
            start.Environment["GITHUB_EVENT_PATH"] = payload;
            start.Environment["GITHUB_REPOSITORY"] = repository;
            using var process = Process.Start(start) ?? throw new InvalidOperationException("/bin/sh did not start");
            var output = process.StandardOutput.ReadToEndAsync(ct);
            var error = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            LastOutput = (await output.ConfigureAwait(false)) + (await error.ConfigureAwait(false));
            return process.ExitCode == 0;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>What the hook printed the last time it ran (its refusal reason, when it refused).</summary>
    public string? LastOutput { get; private set; }
}
