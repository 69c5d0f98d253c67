using System.Diagnostics;
using System.Text.Json.Nodes;
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
        figures["cost_per_job_eur_cax21_5min"] = HetznerSimulator.ServerTypes.Single(t => t.Name == "cax21").HourlyGross;
        details["server_create_s"] = 20;
        details["job_s"] = 30;
        details["requests_per_hour"] = "requests per runner × runners per hour + the start-up requests";
        details["note"] = "per runner: every request after the controller's start-up checks (those made before the first job: server types, images, firewall, server list) over the runners made; _with_startup counts those too; hetzner_requests_per_runner is the worse of the two rates; a 5-minute job pays one started hour of cax21 (gross)";
        details["target"] = "at most 6 requests per runner; requests_per_hour_500 within 3,600";
        return new BenchResult(figures, details);
    }

    private static async Task<(int Runners, long Requests, long Startup, IReadOnlyDictionary<string, int> Routes)> StreamAsync(int perHour, TimeSpan window, int seed)
    {
        var options = new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(20), ActionDelay = TimeSpan.FromSeconds(2), MaxServers = 200 };
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:10",
            ["Fleet:Pools:0:Name"] = "cax",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Labels:1"] = "arm64",
            ["Fleet:Pools:0:Provider"] = "hetzner",
            ["Fleet:Pools:0:MaxRunners"] = "100",
            ["Fleet:Pools:0:Hetzner:ServerTypes:0"] = "cax21",
            ["Fleet:Pools:0:Hetzner:Locations:0"] = "fsn1",
            ["Fleet:Pools:0:Hetzner:Locations:1"] = "nbg1",
            ["Fleet:Pools:0:Hetzner:Image"] = "ubuntu-24.04",
        };
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
