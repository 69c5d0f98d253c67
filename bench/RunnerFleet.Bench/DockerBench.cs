using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace RunnerFleet.Bench;

/// <summary>
/// docker.json: on the real Docker engine, from a webhook arriving to the runner's container running,
/// next to the engine's own bare create + start of the same image, both timed to the engine's start event.
/// </summary>
internal static class DockerBench
{
    private const string Image = "runnerfleet/sim-runner:latest";
    private static readonly string[] s_labels = ["self-hosted", "linux"];

    public static async Task<BenchResult> RunAsync(int samples)
    {
        using var docker = new DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).WithApiVersion(new System.Version(1, 41)).Build();
        var network = $"rf-bench-{Guid.NewGuid():N}"[..16];
        await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = network, Driver = "bridge", Labels = new Dictionary<string, string> { ["runnerfleet.bench"] = "1" } }).ConfigureAwait(false);
        var gateway = (await docker.Networks.InspectNetworkAsync(network).ConfigureAwait(false)).IPAM.Config[0].Gateway;
        var starts = new ContainerStarts(docker);
        try
        {
            // Bare: the engine's own create + start of the same image, on the same network.
            var bare = new List<double>();
            for (var i = 0; i < samples + 2; i++)
            {
                var name = $"rf-bench-bare-{Guid.NewGuid():N}"[..24];
                var t0 = Stopwatch.GetTimestamp();
                var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
                {
                    Name = name, Image = Image, Entrypoint = ["/bin/sleep"], Cmd = ["30"], HostConfig = new HostConfig { NetworkMode = network, Init = true },
                }).ConfigureAwait(false);
                await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters()).ConfigureAwait(false);
                var t1 = await starts.WaitAsync(name, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
                if (i >= 2)
                {
                    bare.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                }
            }

            // Through the fleet: webhook in, JIT config, container created and started by the Docker provider.
            var fleetTimes = new List<double>();
            await using (var fleet = await BenchFleet.StartAsync(["bench/app"], new Dictionary<string, string?>
            {
                ["GitHub:PollInterval"] = "00:00:00",
                ["Fleet:PlanInterval"] = "00:10:00",
                ["Fleet:ReapInterval"] = "00:00:02",
                ["Fleet:ReconcileInterval"] = "00:10:00",
                ["Fleet:Pools:0:Name"] = "linux",
                ["Fleet:Pools:0:Labels:0"] = "linux",
                ["Fleet:Pools:0:Provider"] = "docker",
                ["Fleet:Pools:0:MaxRunners"] = "20",
                ["Fleet:Pools:0:Docker:Image"] = Image,
                ["Fleet:Pools:0:Docker:Network"] = network,
                ["Fleet:Pools:0:Docker:Cpus"] = "0.5",
                ["Fleet:Pools:0:Docker:MemoryMb"] = "64",
            }, webhooks: false, gateway: gateway).ConfigureAwait(false))
            {
                for (var i = 0; i < samples + 2; i++)
                {
                    var job = fleet.GitHub.QueueJobs("bench/app", s_labels, 1, TimeSpan.FromMilliseconds(200)).Jobs[0];
                    var (t0, runner) = await fleet.PostQueuedAndAwaitRunnerAsync(job).ConfigureAwait(false);

                    var t1 = await starts.WaitAsync(runner, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
                    if (i >= 2)
                    {
                        fleetTimes.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
                    }
                }

                await EconomyBench.WaitDoneAsync(fleet, TimeSpan.FromMinutes(2)).ConfigureAwait(false);
            }

            var bareMedian = Report.Percentile(bare, 50);
            var fleetMedian = Report.Percentile(fleetTimes, 50);
            return new BenchResult(new JsonObject
            {
                ["ratio_to_bare"] = Math.Round(fleetMedian / bareMedian, 3),
                ["fleet_ms_median"] = fleetMedian,
                ["bare_ms_median"] = bareMedian,
            }, new JsonObject
            {
                ["runners"] = fleetTimes.Count,
                ["fleet_ms"] = new JsonArray([.. fleetTimes.Select(t => (JsonNode)Math.Round(t, 2))]),
                ["bare_ms"] = new JsonArray([.. bare.Select(t => (JsonNode)Math.Round(t, 2))]),
                ["image"] = Image,
                ["measured_to"] = "the engine's container start event, for both",
                ["target"] = "within 1.5× of bare",
            });
        }
        finally
        {
            await starts.DisposeAsync().ConfigureAwait(false);
            foreach (var c in await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["runnerfleet.fleet=bench"] = true } } }).ConfigureAwait(false))
            {
                await docker.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
            }

            await docker.Networks.DeleteNetworkAsync(network).ConfigureAwait(false);
        }
    }
}
