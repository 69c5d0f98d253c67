using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.GitHub;

using RunnerFleet.Controller.Channels.Rest;

namespace RunnerFleet.Bench;

/// <summary>
/// api-economy.json: GitHub requests that cost rate limit (the simulator counts them as GitHub does: a
/// conditional GET answered 304 is free) per job served, with webhooks and with polling, and per idle poll
/// over 25 repositories with nothing queued. burst.json: 500 jobs over 25 repositories at once, a pool of
/// at most 50 simulated runners that boot and run for a fixed time, drained against its lower bound.
/// </summary>
internal static class EconomyBench
{
    private static readonly string[] s_labels = ["self-hosted", "linux"];

    private static Dictionary<string, string?> Pool(int max, TimeSpan poll, string bootDelay = "00:00:00") => new()
    {
        ["GitHub:PollInterval"] = poll.ToString(),
        ["Fleet:PlanInterval"] = "00:00:01",
        ["Fleet:ReapInterval"] = "00:00:01",
        ["Fleet:ReconcileInterval"] = "00:01:00",
        ["Fleet:Pools:0:Name"] = "linux",
        ["Fleet:Pools:0:Labels:0"] = "linux",
        ["Fleet:Pools:0:Provider"] = "inprocess",
        ["Fleet:Pools:0:MaxRunners"] = max.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["InProcess:BootDelay"] = bootDelay,
    };

    private static string[] Repositories(int n) => [.. Enumerable.Range(0, n).Select(i => $"bench/repo{i:00}")];

    public static async Task<BenchResult> RunEconomyAsync()
    {
        var webhook = await PerJobAsync(webhooks: true, TimeSpan.Zero).ConfigureAwait(false);
        var polling = await PerJobAsync(webhooks: false, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        var scaleSet = await PerJobAsync(webhooks: false, TimeSpan.Zero, scaleSet: true).ConfigureAwait(false);

        // Idle: 25 repositories, nothing queued; after the first poll every answer is an unchanged 304.
        var repos = Repositories(25);
        await using var fleet = await BenchFleet.StartAsync(repos, Pool(10, TimeSpan.Zero), webhooks: false).ConfigureAwait(false);
        var source = fleet.App.Services.GetRequiredService<RestPollingJobSource>();
        await source.PollAsync(CancellationToken.None).ConfigureAwait(false);
        var before = fleet.GitHub.PeekRate("sandbox-token").Used;
        const int polls = 10;
        for (var i = 0; i < polls; i++)
        {
            await source.PollAsync(CancellationToken.None).ConfigureAwait(false);
        }

        var idle = (fleet.GitHub.PeekRate("sandbox-token").Used - before) / (double)polls;
        return new BenchResult(new JsonObject
        {
            ["requests_per_job_webhook"] = webhook.PerJob,
            ["requests_per_job_polling"] = polling.PerJob,
            ["requests_per_job_scaleset"] = scaleSet.PerJob,
            ["requests_per_idle_poll"] = idle,
        }, new JsonObject
        {
            ["jobs"] = webhook.Jobs,
            ["repositories_idle"] = repos.Length,
            ["webhook_mode"] = "webhooks only (polling off); JIT runners",
            ["polling_mode"] = "polling every 2 s, no webhooks",
            ["scaleset_mode"] = "a runner scale set's message queue (the Actions service's calls are not REST rate limit; the registration token for its admin token is)",
            ["targets"] = "at most 1.2 per job with webhooks, 0 per idle poll",
        });
    }

    private static async Task<(double PerJob, int Jobs)> PerJobAsync(bool webhooks, TimeSpan poll, bool scaleSet = false)
    {
        const int jobs = 50;
        var repos = scaleSet ? ["bench/repo00"] : Repositories(5);
        var settings = Pool(10, poll);
        if (scaleSet)
        {
            settings["Fleet:Pools:0:Discovery"] = "ScaleSet";
            settings["Fleet:Pools:0:Scope"] = repos[0];
        }

        await using var fleet = await BenchFleet.StartAsync(repos, settings, webhooks: webhooks, scaleSetPollWait: TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var before = fleet.GitHub.PeekRate("sandbox-token").Used;
        string[] labels = scaleSet ? ["linux"] : s_labels;
        for (var i = 0; i < jobs; i++)
        {
            fleet.GitHub.QueueJobs(repos[i % repos.Length], labels, 1, TimeSpan.FromMilliseconds(200));
        }

        await WaitDoneAsync(fleet, TimeSpan.FromMinutes(3)).ConfigureAwait(false);
        return (Math.Round((fleet.GitHub.PeekRate("sandbox-token").Used - before) / (double)jobs, 3), jobs);
    }

    public static async Task<BenchResult> RunBurstAsync()
    {
        const int jobs = 500;
        const int max = 50;
        var boot = TimeSpan.FromSeconds(2);
        var job = TimeSpan.FromSeconds(3);
        var repos = Repositories(25);
        await using var fleet = await BenchFleet.StartAsync(repos, Pool(max, TimeSpan.FromSeconds(5), boot.ToString()), webhooks: true).ConfigureAwait(false);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < jobs; i++)
        {
            fleet.GitHub.QueueJobs(repos[i % repos.Length], s_labels, 1, job);
        }

        await WaitDoneAsync(fleet, TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        var drain = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var lowerBound = Math.Ceiling(jobs / (double)max) * (boot + job).TotalSeconds;
        var served = fleet.GitHub.AllJobs();
        return new BenchResult(new JsonObject
        {
            ["ratio_to_lower_bound"] = Math.Round(drain / lowerBound, 3),
            ["drain_s"] = Math.Round(drain, 2),
            ["lower_bound_s"] = lowerBound,
        }, new JsonObject
        {
            ["jobs"] = jobs,
            ["repositories"] = repos.Length,
            ["max_runners"] = max,
            ["boot_s"] = boot.TotalSeconds,
            ["job_s"] = job.TotalSeconds,
            ["jobs_assigned_once"] = served.Count(j => j.Assignments == 1),
            ["lower_bound"] = "ceil(jobs / max_runners) × (boot + job)",
            ["target"] = "within 1.1× of the lower bound",
        });
    }

    internal static async Task WaitDoneAsync(BenchFleet fleet, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!fleet.GitHub.AllJobs().All(j => j.Status == "completed"))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"jobs not done after {timeout}: {string.Join(", ", fleet.GitHub.AllJobs().GroupBy(j => j.Status).Select(g => $"{g.Key}={g.Count()}"))}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}
