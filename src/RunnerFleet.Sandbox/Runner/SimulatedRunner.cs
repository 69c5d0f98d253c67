using System.Globalization;
using System.Text;

namespace RunnerFleet.Sandbox.Runner;

/// <summary>
/// The simulated runner, in process: the same protocol as the busybox image in <c>infra/sim-runner</c>.
/// Takes a JIT config (or a registration token), comes online, takes one job, "runs" it for the job's
/// duration, reports it complete and exits, as <c>run.sh</c> of an ephemeral runner does.
/// </summary>
public sealed class SimulatedRunner(HttpClient http, TimeProvider time)
{
    /// <summary>The runner's pre-job hook (<c>ACTIONS_RUNNER_HOOK_JOB_STARTED</c>), if its machine installs one.</summary>
    public JobStartedHook? JobStartedHook { get; init; }

    /// <summary>Called with the job's id as its steps begin (the machine's view of the job: its disk, say).</summary>
    public Action<long>? OnJob { get; init; }

    /// <summary>Runs to completion. Returns the job id it ran, or null if it got none before <paramref name="ct"/>.</summary>
    public async Task<long?> RunWithJitConfigAsync(string encodedJitConfig, CancellationToken ct)
    {
        var config = ParseLines(Encoding.UTF8.GetString(Convert.FromBase64String(encodedJitConfig)));
        return await RunAsync(new Uri(config["url"]), config["runner_id"], config["credential"], ct).ConfigureAwait(false);
    }

    /// <summary>What <c>config.sh --url … --token … --ephemeral --no-default-labels</c> followed by <c>run.sh</c> does.</summary>
    public async Task<long?> RunWithRegistrationTokenAsync(Uri scopeUrl, string token, string name, IReadOnlyList<string> labels, CancellationToken ct, bool ephemeral = true, bool noDefaultLabels = true)
    {
        var baseUrl = new Uri(scopeUrl.GetLeftPart(UriPartial.Authority));
        var body = $"url={Uri.EscapeDataString(scopeUrl.ToString())}\ntoken={Uri.EscapeDataString(token)}\nname={Uri.EscapeDataString(name)}\nlabels={Uri.EscapeDataString(string.Join(',', labels))}\nephemeral={(ephemeral ? "true" : "false")}\nno_default_labels={(noDefaultLabels ? "true" : "false")}\n";
        var answer = ParseLines(await PostAsync(new Uri(baseUrl, "/_runner/register"), body, ct).ConfigureAwait(false));
        return await RunAsync(baseUrl, answer["runner_id"], answer["credential"], ct).ConfigureAwait(false);
    }

    private async Task<long?> RunAsync(Uri baseUrl, string runnerId, string credential, CancellationToken ct)
    {
        var auth = $"runner_id={runnerId}\ncredential={Uri.EscapeDataString(credential)}\n";
        await PostAsync(new Uri(baseUrl, "/_runner/session"), auth, ct).ConfigureAwait(false);
        while (!ct.IsCancellationRequested)
        {
            var answer = ParseLines(await PostAsync(new Uri(baseUrl, "/_runner/acquire"), auth, ct).ConfigureAwait(false));
            if (!answer.TryGetValue("job_id", out var jobId))
            {
                continue;
            }

            if (JobStartedHook is { } hook
                && !await hook.AllowsAsync(answer.GetValueOrDefault("event_name") ?? string.Empty, answer.GetValueOrDefault("repository") ?? string.Empty,
                    Encoding.UTF8.GetString(Convert.FromBase64String(answer.GetValueOrDefault("event") ?? string.Empty)), ct).ConfigureAwait(false))
            {
                // The hook refused: the job fails before its first step.
                await PostAsync(new Uri(baseUrl, "/_runner/complete"), auth + $"job_id={jobId}\nconclusion=failure\nsteps=skipped\nmachine={Machine}\n", ct).ConfigureAwait(false);
                return long.Parse(jobId, CultureInfo.InvariantCulture);
            }

            OnJob?.Invoke(long.Parse(jobId, CultureInfo.InvariantCulture));
            var ms = long.Parse(answer.GetValueOrDefault("duration_ms") ?? "0", CultureInfo.InvariantCulture);
            await Task.Delay(TimeSpan.FromMilliseconds(ms), time, ct).ConfigureAwait(false);
            await PostAsync(new Uri(baseUrl, "/_runner/complete"), auth + $"job_id={jobId}\nconclusion=success\nmachine={Machine}\n", ct).ConfigureAwait(false);
            return long.Parse(jobId, CultureInfo.InvariantCulture);
        }

        return null;
    }

    private static string Machine => System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
        System.Runtime.InteropServices.Architecture.X64 => "x86_64",
        var other => other.ToString().ToLowerInvariant(),
    };

    private async Task<string> PostAsync(Uri url, string body, CancellationToken ct)
    {
        using var content = new StringContent(body, Encoding.UTF8, "text/plain");
        using var response = await http.PostAsync(url, content, ct).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{url.AbsolutePath} answered {(int)response.StatusCode}: {text.Trim()}", null, response.StatusCode);
        }

        return text;
    }

    private static Dictionary<string, string> ParseLines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1], StringComparer.OrdinalIgnoreCase);
}
