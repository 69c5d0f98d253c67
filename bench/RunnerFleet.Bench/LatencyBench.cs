using System.Diagnostics;
using System.Text.Json.Nodes;
using Docker.DotNet;
using Docker.DotNet.Models;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Bench;

/// <summary>
/// latency.json: what a user feels, job queued → job started, end to end. Real Docker runners (the simulated
/// runner image), a GitHub simulator answering every call after an injected round trip
/// (<see cref="GitHubLatency.Typical"/>), the controller as shipped (Information logging to the console sink, here
/// a file; Server GC; polling every 10 s as the README recommends, with webhooks), public and private repositories,
/// and jobs arriving as a Poisson stream at 600 and 3,000 jobs an hour for a fixed window; then 600 an hour again
/// with two warm runners (<c>MinIdle</c>). Beside it, in the same run, the physical floor: a bare create + start of
/// the same image on the same network with a JIT config made beforehand, timed from the job's queueing to its start.
/// All times come from the simulator's clock: the job's creation, the runner's first call (online), the job's
/// assignment (started).
/// </summary>
internal static class LatencyBench
{
    private const string Image = "runnerfleet/sim-runner:latest";
    private static readonly string[] s_labels = ["self-hosted", "linux"];
    private static readonly TimeSpan s_jobDuration = TimeSpan.FromSeconds(4);

    public static async Task<BenchResult> RunAsync(string output, bool quick, TextWriter progress)
    {
        using var docker = new DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).WithApiVersion(new System.Version(1, 41)).Build();
        var network = $"rf-bench-{Guid.NewGuid():N}"[..16];
        await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = network, Driver = "bridge", Labels = new Dictionary<string, string> { ["runnerfleet.bench"] = "1" } }).ConfigureAwait(false);
        var gateway = (await docker.Networks.InspectNetworkAsync(network).ConfigureAwait(false)).IPAM.Config[0].Gateway;
        var latency = GitHubLatency.Typical();
        var figures = new JsonObject();
        var details = new JsonObject
        {
            ["github_latency"] = new JsonObject { ["reads"] = latency.Reads!.ToString(), ["writes"] = latency.Writes!.ToString(), ["applies_to"] = "every REST, Actions service and runner protocol call; webhooks are delivered at once" },
            ["job_duration_s"] = s_jobDuration.TotalSeconds,
            ["image"] = Image,
        };
        var log = Path.Combine(output, "latency-controller.log");
        Directory.CreateDirectory(output);
        try
        {
            var floor = await FloorAsync(docker, network, gateway, latency, quick ? 6 : 12).ConfigureAwait(false);
            progress.WriteLine($"    floor: p50 {Report.Percentile(floor, 50)} ms, p99 {Report.Percentile(floor, 99)} ms over {floor.Count}");
            details["floor_ms"] = Report.Array(floor);

            var windows = quick
                ? new[] { (Rate: 600, Window: TimeSpan.FromSeconds(75), Warm: 0) }
                : [(600, TimeSpan.FromMinutes(3), 0), (3000, TimeSpan.FromSeconds(90), 0), (600, TimeSpan.FromSeconds(90), 2)];
            var streams = new Dictionary<string, Stream>();
            foreach (var (rate, window, warm) in windows)
            {
                var key = warm > 0 ? $"{rate}_warm{warm}" : $"{rate}";
                var s = await StreamAsync(network, gateway, latency, rate, window, warm, log, seed: rate + warm).ConfigureAwait(false);
                streams[key] = s;
                progress.WriteLine($"    {rate}/h{(warm > 0 ? $" with {warm} warm" : string.Empty)}: {s.Started.Count} jobs, started p50 {Report.Percentile(s.Started, 50)} ms, p99 {Report.Percentile(s.Started, 99)} ms");
                details[$"stream_{key}"] = new JsonObject
                {
                    ["jobs"] = s.Started.Count,
                    ["window_s"] = window.TotalSeconds,
                    ["warm_runners"] = warm,
                    ["queued_to_online_p50_ms"] = Report.Percentile(s.Online, 50),
                    ["queued_to_online_p95_ms"] = Report.Percentile(s.Online, 95),
                    ["queued_to_online_p99_ms"] = Report.Percentile(s.Online, 99),
                    ["queued_to_started_p50_ms"] = Report.Percentile(s.Started, 50),
                    ["queued_to_started_p95_ms"] = Report.Percentile(s.Started, 95),
                    ["queued_to_started_p99_ms"] = Report.Percentile(s.Started, 99),
                    ["github_requests_per_job"] = s.RequestsPerJob,
                    ["max_concurrent_runners"] = s.MaxConcurrent,
                    ["queued_to_started_ms"] = Report.Array(s.Started),
                };
            }

            // One GitHub round trip at its p99: the JIT config the controller must ask for (a write).
            var roundTripP99 = latency.Writes!.P99.TotalMilliseconds;
            var floorP99 = Report.Percentile(floor, 99);
            var at600 = streams["600"];
            figures["queued_to_started_p50_ms_600"] = Report.Percentile(at600.Started, 50);
            figures["queued_to_started_p99_ms_600"] = Report.Percentile(at600.Started, 99);
            if (streams.TryGetValue("3000", out var at3000))
            {
                figures["queued_to_started_p99_ms_3000"] = Report.Percentile(at3000.Started, 99);
            }

            if (streams.TryGetValue("600_warm2", out var warm2))
            {
                figures["queued_to_started_p99_ms_600_warm"] = Report.Percentile(warm2.Started, 99);
            }

            figures["floor_p99_ms"] = floorP99;
            figures["queued_to_started_ratio_600"] = Math.Round(Report.Percentile(at600.Started, 99) / (floorP99 + roundTripP99), 3);
            details["ratio"] = "queued → started p99 at 600 jobs/h ÷ (floor p99 + one GitHub write round trip at its p99)";
            details["floor"] = "bare create + start of the same image on the same network, JIT config made beforehand, from the job's queueing to its start";
            details["controller_log"] = "Information, as shipped (console sink, redirected to latency-controller.log)";
            details["target"] = "queued_to_started_ratio_600 ≤ 1.5";
            return new BenchResult(figures, details);
        }
        finally
        {
            foreach (var c in await docker.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["runnerfleet.bench"] = true } },
            }).ConfigureAwait(false))
            {
                await docker.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
            }

            foreach (var c in await docker.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["runnerfleet.fleet=bench"] = true } },
            }).ConfigureAwait(false))
            {
                await docker.Containers.RemoveContainerAsync(c.ID, new ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
            }

            await docker.Networks.DeleteNetworkAsync(network).ConfigureAwait(false);
        }
    }

    private sealed record Stream(List<double> Online, List<double> Started, double RequestsPerJob, int MaxConcurrent);

    /// <summary>The floor: no controller, the runner's JIT config made before the job is queued, then a bare create + start.</summary>
    private static async Task<List<double>> FloorAsync(DockerClient docker, string network, string gateway, GitHubLatency latency, int samples)
    {
        var port = RunnerFleet.Sandbox.SandboxServer.FreePort();
        var url = $"http://{gateway}:{port}";
        await using var sim = await RunnerFleet.Sandbox.SandboxServer.StartAsync([url], new GitHubSimulatorOptions { RunnerBaseUrl = url, Latency = latency }, null, TimeProvider.System, null).ConfigureAwait(false);
        sim.Simulator.EnsureRepository("bench/floor", isPrivate: true);
        var times = new List<double>();
        for (var i = 0; i < samples + 2; i++)
        {
            var name = $"rf-bench-floor-{Guid.NewGuid():N}"[..26];
            var (_, runner, message) = sim.Simulator.RegisterJitRunner("bench/floor", name, 1, s_labels);
            var jit = sim.Simulator.EncodeJitConfig(runner ?? throw new InvalidOperationException(message), url);
            var job = sim.Simulator.QueueJobs("bench/floor", s_labels, 1, TimeSpan.FromMilliseconds(100)).Jobs[0];
            var created = await docker.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Name = name,
                Image = Image,
                Env = [$"ACTIONS_RUNNER_INPUT_JITCONFIG={jit}"],
                Labels = new Dictionary<string, string> { ["runnerfleet.bench"] = "1" },
                HostConfig = new HostConfig { NetworkMode = network, Init = true, NanoCPUs = 500_000_000, Memory = 64L * 1024 * 1024, MemorySwap = 64L * 1024 * 1024 },
            }).ConfigureAwait(false);
            await docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters()).ConfigureAwait(false);
            await WaitAsync(() => sim.Simulator.Read(() => job.Status == "completed"), TimeSpan.FromMinutes(1), $"floor job {job.Id}").ConfigureAwait(false);
            if (i >= 2)
            {
                times.Add((sim.Simulator.Read(() => job.StartedAt!.Value) - job.CreatedAt).TotalMilliseconds);
            }

            await docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }).ConfigureAwait(false);
        }

        return times;
    }

    private static async Task<Stream> StreamAsync(string network, string gateway, GitHubLatency latency, int perHour, TimeSpan window, int warm, string log, int seed)
    {
        var settings = new Dictionary<string, string?>
        {
            ["GitHub:PollInterval"] = "00:00:10",
            ["Fleet:Pools:0:Name"] = "linux",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Provider"] = "docker",
            ["Fleet:Pools:0:MaxRunners"] = "30",
            ["Fleet:Pools:0:MinIdle"] = warm.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Fleet:Pools:0:Docker:Image"] = Image,
            ["Fleet:Pools:0:Docker:Network"] = network,
            ["Fleet:Pools:0:Docker:Cpus"] = "0.5",
            ["Fleet:Pools:0:Docker:MemoryMb"] = "64",
        };

        // The controller logs at Information to its console sink, as shipped; the console is a file for the while.
        var console = Console.Out;
        await using var file = new StreamWriter(log, append: true) { AutoFlush = false };
        Console.SetOut(file);
        try
        {
            await using var fleet = await BenchFleet.StartAsync(Arrivals.Repositories, settings, webhooks: true, gateway: gateway, latency: latency,
                publicRepositories: new HashSet<string>([Arrivals.Repositories[0]]), logLevel: "Information").ConfigureAwait(false);
            if (warm > 0)
            {
                await WaitAsync(() => fleet.GitHub.AllRunners().Count(r => r.OnlineAt is not null && r.Job is null) >= warm, TimeSpan.FromMinutes(2), "warm runners").ConfigureAwait(false);
            }

            var before = fleet.GitHub.PeekRate("sandbox-token").Used;
            var jobs = new List<SimJob>();
            var maxConcurrent = 0;
            await Arrivals.PoissonAsync(perHour, window, seed, i =>
            {
                jobs.Add(Arrivals.QueueMixed(fleet.GitHub, i, s_labels, s_jobDuration));
                maxConcurrent = Math.Max(maxConcurrent, fleet.GitHub.AllRunners().Count);
            }).ConfigureAwait(false);

            await WaitAsync(() => fleet.GitHub.Read(() => jobs.All(j => j.Status == "completed")), TimeSpan.FromMinutes(5), $"the {jobs.Count} jobs of the {perHour}/h stream").ConfigureAwait(false);
            var requests = fleet.GitHub.PeekRate("sandbox-token").Used - before;
            var online = new List<double>();
            var started = new List<double>();
            fleet.GitHub.Read(() =>
            {
                foreach (var j in jobs)
                {
                    started.Add((j.StartedAt!.Value - j.CreatedAt).TotalMilliseconds);
                    // A warm runner was online before the job came: zero.
                    online.Add(Math.Max(0, (j.RunnerOnlineAt!.Value - j.CreatedAt).TotalMilliseconds));
                }

                return 0;
            });
            return new Stream(online, started, Math.Round(requests / (double)jobs.Count, 2), maxConcurrent);
        }
        finally
        {
            await file.FlushAsync().ConfigureAwait(false);
            Console.SetOut(console);
        }
    }

    private static async Task WaitAsync(Func<bool> condition, TimeSpan bound, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(bound.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{what}: not done after {bound}");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }
}
