using System.Text.Json.Nodes;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Bench;

/// <summary>
/// hetzner.json: Hetzner API requests per runner against the Hetzner simulator (every request it answered,
/// start-up included, over the runners made), with the shipped action polling and server-list sharing; and the
/// cost per job of a 5-minute job on cax21 (one started hour, as Hetzner bills). Target: at most 6 requests per
/// runner, so the project's 3,600 requests an hour last past 500 runners an hour.
/// </summary>
internal static class HetznerBench
{
    private static readonly string[] s_labels = ["self-hosted", "linux", "arm64"];

    public static async Task RunAsync(string output)
    {
        const int jobs = 40;
        var options = new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(3), ActionDelay = TimeSpan.FromMilliseconds(200) };
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:00",
            ["Fleet:PlanInterval"] = "00:00:01",
            ["Fleet:ReapInterval"] = "00:00:05",
            ["Fleet:ReconcileInterval"] = "00:01:00",
            ["Fleet:Pools:0:Name"] = "cax",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Labels:1"] = "arm64",
            ["Fleet:Pools:0:Provider"] = "hetzner",
            ["Fleet:Pools:0:MaxRunners"] = "20",
            ["Fleet:Pools:0:Hetzner:ServerTypes:0"] = "cax21",
            ["Fleet:Pools:0:Hetzner:Locations:0"] = "fsn1",
            ["Fleet:Pools:0:Hetzner:Locations:1"] = "nbg1",
            ["Fleet:Pools:0:Hetzner:Image"] = "ubuntu-24.04",
        };
        await using var fleet = await BenchFleet.StartAsync(["bench/repo00"], settings, hetzner: options).ConfigureAwait(false);
        var hetzner = fleet.Sim.Hetzner!;
        for (var i = 0; i < jobs; i++)
        {
            await fleet.PostQueuedAsync(fleet.GitHub.QueueJobs("bench/repo00", s_labels, 1, TimeSpan.FromSeconds(2)).Jobs[0]).ConfigureAwait(false);
        }

        var deadline = DateTimeOffset.UtcNow.AddMinutes(10);
        while (!(fleet.GitHub.AllJobs().All(j => j.Status == "completed") && hetzner.LiveServers().Count == 0) && DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(500).ConfigureAwait(false);
        }

        var runners = hetzner.AllServers().Count;
        var perRunner = runners == 0 ? double.NaN : Math.Round(hetzner.RequestsServed / (double)runners, 2);
        var price = HetznerSimulator.ServerTypes.Single(t => t.Name == "cax21").HourlyGross;
        await Report.WriteAsync(output, "hetzner", new JsonObject
        {
            ["hetzner_requests_per_runner"] = perRunner,
            ["cost_per_job_eur_cax21_5min"] = price,
        }, new JsonObject
        {
            ["jobs"] = jobs,
            ["servers"] = runners,
            ["requests"] = hetzner.RequestsServed,
            ["server_create_seconds"] = options.BootDelay.TotalSeconds,
            ["runners_per_hour_within_3600_requests"] = double.IsNaN(perRunner) ? null : Math.Floor(3600 / perRunner),
            ["note"] = "requests include start-up (server types, image, firewall); a 5-minute job pays one started hour of cax21 (gross)",
            ["target"] = "at most 6 requests per runner",
        }).ConfigureAwait(false);
    }
}
