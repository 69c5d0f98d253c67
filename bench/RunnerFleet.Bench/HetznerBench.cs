using System.Diagnostics;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Bench;

/// <summary>
/// hetzner.json: Hetzner API requests per runner and per hour against the Hetzner simulator, at 100 and 500 runners
/// an hour (jobs arriving as a Poisson stream for a fixed window, each on its own cax21), everything the controller
/// sent counted: start-up checks, creates, action polling, the shared server list, deletes. The project's budget is
/// 3,600 requests an hour (Hetzner's default, refilled one a second); the target is at most 6 requests per runner.
/// And the cost per job of a 5-minute job on cax21: one started hour, gross, as Hetzner bills.
/// </summary>
internal static class HetznerBench
{
    private static readonly string[] s_labels = ["self-hosted", "linux", "arm64"];

    public static async Task<BenchResult> RunAsync(bool quick)
    {
        var figures = new JsonObject();
        var details = new JsonObject();
        var rates = quick ? new[] { (Rate: 500, Window: TimeSpan.FromSeconds(90)) } : [(100, TimeSpan.FromMinutes(3)), (500, TimeSpan.FromMinutes(2))];
        foreach (var (rate, window) in rates)
        {
            var (runners, requests, startup, routes) = await StreamAsync(rate, window, seed: rate).ConfigureAwait(false);
            var perRunner = runners == 0 ? double.NaN : Math.Round((requests - startup) / (double)runners, 2);
            figures[$"hetzner_requests_per_runner_{rate}"] = perRunner;
            figures[$"hetzner_requests_per_runner_with_startup_{rate}"] = runners == 0 ? double.NaN : Math.Round(requests / (double)runners, 2);
            // Sustained: every runner of an hour costs what one cost here, plus the start-up once.
            figures[$"hetzner_requests_per_hour_{rate}"] = Math.Round((perRunner * rate) + startup, 0);
            details[$"stream_{rate}"] = new JsonObject { ["runners"] = runners, ["requests"] = requests, ["startup_requests"] = startup, ["window_s"] = window.TotalSeconds,
                ["requests_by_route"] = new JsonObject(routes.Select(r => KeyValuePair.Create(r.Key, (JsonNode?)r.Value))) };
        }

        var worst = figures.Where(f => f.Key.StartsWith("hetzner_requests_per_runner_", StringComparison.Ordinal) && !f.Key.Contains("startup", StringComparison.Ordinal)).Max(f => f.Value!.GetValue<double>());
        figures["hetzner_requests_per_runner"] = worst;
        // Cost per 5-minute job, measured with and without reuse on the same stream of jobs (simulated hours).
        var costRate = 12;
        var costWindow = quick ? TimeSpan.FromHours(2) : TimeSpan.FromHours(4);
        var plain = await CostStreamAsync(reuse: false, costRate, costWindow, seed: 7).ConfigureAwait(false);
        var reused = await CostStreamAsync(reuse: true, costRate, costWindow, seed: 7).ConfigureAwait(false);
        figures["cost_per_job_eur_cax21_5min"] = plain["cost_per_job_eur"]!.DeepClone();
        figures["cost_per_job_eur_cax21_5min_reuse"] = reused["cost_per_job_eur"]!.DeepClone();
        figures["cost_reuse_ratio_cax21_5min"] = Math.Round(reused["cost_eur"]!.GetValue<double>() / plain["cost_eur"]!.GetValue<double>(), 3);
        details["cost_stream"] = new JsonObject { ["without_reuse"] = plain, ["with_reuse"] = reused };
        details["cost_note"] = $"one repository's 5-minute jobs arriving as a Poisson stream, {costRate} an hour for {costWindow.TotalHours} simulated hours, on cax21; the controller and both simulators share a fake clock (1 simulated second per step), its loops tick in real time; cost is what Hetzner bills: every server's started hours at the gross hourly price, from the simulator's own server records; the controller's own figure beside it";
        details["server_create_s"] = 20;
        details["job_s"] = 30;
        details["requests_per_hour"] = "requests per runner × runners per hour + the start-up requests";
        details["note"] = "per runner: every request after the controller's start-up checks (those made before the first job: server types, images, firewall, server list) over the runners made; _with_startup counts those too; hetzner_requests_per_runner is the worse of the two rates; a 5-minute job pays one started hour of cax21 (gross)";
        details["target"] = "at most 6 requests per runner; requests_per_hour_500 within 3,600; with reuse, at most a third of the cost per job without";
        return new BenchResult(figures, details);
    }

    /// <summary>
    /// One repository's 5-minute jobs as a Poisson stream on a fake clock (the controller and both simulators read it;
    /// Quartz's loops still tick in real time, a few simulated seconds apart), until every job is done and every server
    /// deleted. Cost is what Hetzner bills (each server's started hours, gross), read from the simulator.
    /// </summary>
    private static async Task<JsonObject> CostStreamAsync(bool reuse, int perHour, TimeSpan window, int seed)
    {
        const string Repository = "bench/cost";
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 7, 0, 0, TimeSpan.Zero));
        var options = new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(20), ActionDelay = TimeSpan.FromSeconds(2), MaxServers = 50 };
        var settings = CaxPool(maxRunners: 20, "fsn1");
        settings["GitHub:PollInterval"] = "00:00:01";
        settings["Fleet:PlanInterval"] = "00:00:00.250";
        settings["Fleet:ReapInterval"] = "00:00:00.250";
        settings["Fleet:ReconcileInterval"] = "00:00:05";
        settings["Fleet:Pools:0:Hetzner:ReuseWithinPaidHour"] = reuse ? "true" : "false";
        var random = new Random(seed);
        var arrivals = new List<TimeSpan>();
        for (var at = TimeSpan.Zero; ;)
        {
            at += TimeSpan.FromHours(-Math.Log(1 - random.NextDouble()) / perHour);
            if (at >= window)
            {
                break;
            }

            arrivals.Add(at);
        }

        await using var fleet = await BenchFleet.StartAsync([Repository], settings, hetzner: options, time: clock).ConfigureAwait(false);
        var hetzner = fleet.Sim.Hetzner!;
        var start = clock.GetUtcNow();
        var queued = 0;
        var started = Stopwatch.StartNew();
        // Done when every job is, every server is deleted, and the controller has written its last runner's cost.
        while (queued < arrivals.Count || !(fleet.GitHub.AllJobs().All(j => j.Status == "completed") && hetzner.LiveServers().Count == 0
            && (await fleet.Store.ListActiveRunnersAsync(CancellationToken.None).ConfigureAwait(false)).Count == 0))
        {
            while (queued < arrivals.Count && start + arrivals[queued] <= clock.GetUtcNow())
            {
                fleet.GitHub.QueueJobs(Repository, s_labels, 1, TimeSpan.FromMinutes(5));
                queued++;
            }

            // Every job ends and every idle server goes before its next paid hour: two simulated hours after the last
            // arrival is generous, and the real-time bound holds on a machine three times slower.
            if (clock.GetUtcNow() - start > window + TimeSpan.FromHours(2) || started.Elapsed > TimeSpan.FromMinutes(20))
            {
                throw new TimeoutException($"hetzner cost (reuse {reuse}): {fleet.GitHub.AllJobs().Count(j => j.Status != "completed")} jobs and {hetzner.LiveServers().Count} servers left");
            }

            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5).ConfigureAwait(false);
        }

        var jobs = fleet.GitHub.AllJobs().Count;
        var servers = hetzner.AllServers();
        var hours = servers.Sum(s => Math.Max(1, (int)Math.Ceiling((s.DeletedAt!.Value - s.Created).TotalHours)));
        var cost = servers.Sum(s => Math.Max(1, (int)Math.Ceiling((s.DeletedAt!.Value - s.Created).TotalHours)) * s.Type.HourlyGross);
        var controllerCost = (await fleet.Store.ListRunnersAsync(10_000, CancellationToken.None).ConfigureAwait(false)).Sum(r => r.Cost);
        return new JsonObject
        {
            ["jobs"] = jobs,
            ["servers_created"] = servers.Count,
            ["rebuilds"] = servers.Sum(s => s.Rebuilds),
            ["server_hours_billed"] = hours,
            ["cost_eur"] = (double)cost,
            ["cost_per_job_eur"] = Math.Round((double)cost / jobs, 4),
            ["controller_cost_eur"] = (double)controllerCost,
            ["simulated_hours"] = Math.Round((clock.GetUtcNow() - start).TotalHours, 2),
            ["real_s"] = Math.Round(started.Elapsed.TotalSeconds, 1),
        };
    }

    /// <summary>One pool of cax21 servers in the given locations, as both streams use it.</summary>
    private static Dictionary<string, string?> CaxPool(int maxRunners, params string[] locations)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Fleet:Pools:0:Name"] = "cax",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Labels:1"] = "arm64",
            ["Fleet:Pools:0:Provider"] = "hetzner",
            ["Fleet:Pools:0:MaxRunners"] = maxRunners.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Fleet:Pools:0:Hetzner:ServerTypes:0"] = "cax21",
            ["Fleet:Pools:0:Hetzner:Image"] = "ubuntu-24.04",
        };
        for (var i = 0; i < locations.Length; i++)
        {
            settings[$"Fleet:Pools:0:Hetzner:Locations:{i}"] = locations[i];
        }

        return settings;
    }

    private static async Task<(int Runners, long Requests, long Startup, IReadOnlyDictionary<string, int> Routes)> StreamAsync(int perHour, TimeSpan window, int seed)
    {
        var options = new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(20), ActionDelay = TimeSpan.FromSeconds(2), MaxServers = 200 };
        var settings = CaxPool(maxRunners: 100, "fsn1", "nbg1");
        settings["GitHub:PollInterval"] = "00:00:10";
        await using var fleet = await BenchFleet.StartAsync(["bench/repo00"], settings, hetzner: options).ConfigureAwait(false);
        var hetzner = fleet.Sim.Hetzner!;
        // What the controller asked before any job (start-up checks: server types, images, firewall, server list).
        var startup = hetzner.RequestsServed;
        await Arrivals.PoissonAsync(perHour, window, seed, _ => fleet.GitHub.QueueJobs("bench/repo00", s_labels, 1, TimeSpan.FromSeconds(30))).ConfigureAwait(false);

        var deadline = Stopwatch.GetTimestamp() + (10L * 60 * Stopwatch.Frequency);
        while (!(fleet.GitHub.AllJobs().All(j => j.Status == "completed") && hetzner.LiveServers().Count == 0))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"hetzner {perHour}/h: jobs or servers left after 10 minutes");
            }

            await Task.Delay(250).ConfigureAwait(false);
        }

        return (hetzner.AllServers().Count, hetzner.RequestsServed, startup, hetzner.RequestsByRoute);
    }
}
