using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using RunnerFleet.Controller.Providers.Docker;
using RunnerFleet.Controller.Hosting;
using RunnerFleet.Sandbox.InProcess;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Sandbox;

/// <summary>
/// <c>--sandbox</c>: the GitHub simulator in process, a steady stream of synthetic jobs over a few
/// repositories and label sets, served by Docker containers of the simulated runner when a Docker engine
/// and the image answer, else by simulated runners in process. Command-line values still win.
/// </summary>
internal static class SandboxMode
{
    public const string Network = "runnerfleet-sandbox";
    public const string Image = "runnerfleet/sim-runner:latest";
    public const string Arm64Image = "runnerfleet/sim-runner:arm64";

    /// <summary>Where infra/qemu-guest/build.sh puts the aarch64 test guest.</summary>
    private static readonly string s_vmImages = Environment.GetEnvironmentVariable("RUNNERFLEET_QEMU_IMAGES") is { } images ? Path.Combine(images, "aarch64") : "/var/cache/runnerfleet/qemu/aarch64";
    private static readonly string[] s_repositories = ["sandbox/web", "sandbox/api", "sandbox/mobile"];

    public static async Task<int> RunAsync(string[] args)
    {
        var rest = args.Where(a => a != "--sandbox").ToArray();
        Console.WriteLine("RunnerFleet sandbox: starting the GitHub simulator ...");
        var (dockerGateway, dockerReason, hasArm64Image) = await ProbeDockerAsync().ConfigureAwait(false);
        var port = SandboxServer.FreePort();
        var urls = new List<string> { $"http://127.0.0.1:{port}" };
        var simOptions = new GitHubSimulatorOptions();
        if (dockerGateway is not null)
        {
            // Containers reach the simulator on their bridge's gateway; nothing else is exposed.
            urls.Add($"http://{dockerGateway}:{port}");
            simOptions.RunnerBaseUrl = $"http://{dockerGateway}:{port}";
        }

        var hetznerOptions = new HetznerSimulatorOptions { BootDelay = TimeSpan.FromSeconds(3) };
        await using var sim = await SandboxServer.StartAsync(urls, simOptions, hetznerOptions, TimeProvider.System, null).ConfigureAwait(false);
        foreach (var repo in s_repositories)
        {
            sim.Simulator.EnsureRepository(repo);
        }

        var emulated = dockerGateway is not null && hasArm64Image;
        // The aarch64 test guest (infra/qemu-guest/build.sh; scripts/prepare.sh makes it) and QEMU to boot it.
        var vm = emulated && RunnerFleet.Controller.Providers.Qemu.QemuHost.FindOnPath("qemu-system-aarch64") is not null
            && new[] { "disk.raw", "vmlinuz", "initrd" }.All(f => File.Exists(Path.Combine(s_vmImages, f)));
        Console.WriteLine(dockerGateway is null
            ? $"  runners: in process ({dockerReason})"
            : $"  runners: Docker containers of {Image} on network {Network}");
        Console.WriteLine($"  arm64:   Hetzner simulator (cax21/cax31 in fsn1/nbg1), overflow to {(emulated ? $"emulated {Arm64Image} containers" : "in-process runners")}{(vm ? ", then a QEMU aarch64 VM" : string.Empty)}");
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

        // The simulator keeps its state in memory, so the fleet's store starts fresh with it every run.
        var dbPath = Path.Combine(Path.GetTempPath(), $"runnerfleet-sandbox-{Environment.ProcessId}.db");
        var fleet = new FleetSettings("sandbox")
            .Set("Urls", "http://127.0.0.1:5000")
            .Store(dbPath)
            .GitHub(sim.BaseUrl, simOptions.RunnerBaseUrl ?? sim.BaseUrl.ToString(), webhookSecret: secret, pollInterval: TimeSpan.FromSeconds(5))
            .Repositories(s_repositories)
            .Hetzner(sim.HetznerApiUrl)
            .Loops(reconcile: TimeSpan.FromSeconds(30))
            // Runners are cut off from this host but for the simulator they must reach.
            .AllowHostPorts(port);
        var minute = TimeSpan.FromMinutes(1);
        if (dockerGateway is null)
        {
            fleet.InProcessPool("linux-x64", 4, ["linux", "x64"], p => p.BootTimeout(minute))
                 .InProcessPool("linux-large", 2, ["linux", "x64", "large"], p => p.BootTimeout(minute).RegistrationToken());
        }
        else
        {
            // Warm caches need the controller on the engine's host with the rights to move the runner user's files (root).
            var cached = Environment.IsPrivilegedProcess;
            if (cached)
            {
                fleet.Set("Fleet:CacheDirectory", Path.Combine(Path.GetTempPath(), "runnerfleet-sandbox-cache"));
                Console.WriteLine("  cache:   linux-x64 keeps /home/runner/.cache warm; the synthetic push jobs write to it, so later jobs hit");
            }

            fleet.DockerPool("linux-x64", 4, ["linux", "x64"], Image, Network, cpus: 0.5, memoryMb: 128, pidsLimit: 4096, pool: p => (cached ? p.Set("Cache:Paths:0", "/home/runner/.cache") : p).BootTimeout(minute))
                 .DockerPool("linux-large", 2, ["linux", "x64", "large"], Image, Network, cpus: 1, memoryMb: 256, pidsLimit: 4096, pool: p => p.BootTimeout(minute).RegistrationToken());
        }

        fleet.HetznerPool("linux-arm64", 3, ["linux", "arm64"], ["cax21", "cax31"], ["fsn1", "nbg1"], p => p.Overflow("linux-arm64-emulated"));
        if (emulated)
        {
            fleet.DockerPool("linux-arm64-emulated", 2, ["linux", "arm64"], Arm64Image, Network, cpus: 1, memoryMb: 256, pidsLimit: 4096,
                pool: p => (vm ? p.Overflow("linux-arm64-vm") : p).BootTimeout(TimeSpan.FromMinutes(2)).Set("Docker:Platform", "linux/arm64"));
            if (vm)
            {
                // A whole ARM64 VM under QEMU (TCG on x86): the last overflow. Its network is open, as the guest must
                // reach the simulator at the Docker bridge's gateway the runners' JIT configs name (the sandbox's
                // simulated jobs are trusted); a VM left by a killed sandbox is removed by the next one's reconciler.
                fleet.Set("Qemu:StateDirectory", Path.Combine(Path.GetTempPath(), "runnerfleet-sandbox-qemu"));
                fleet.Pool("linux-arm64-vm", "qemu", 1, ["linux", "arm64"], p => p.BootTimeout(TimeSpan.FromMinutes(3))
                    .Set("Qemu:Arch", "aarch64").Set("Qemu:Image", Path.Combine(s_vmImages, "disk.raw")).Set("Qemu:Kernel", Path.Combine(s_vmImages, "vmlinuz"))
                    .Set("Qemu:Initrd", Path.Combine(s_vmImages, "initrd")).Set("Qemu:Append", "quiet").Set("Qemu:Cpus", "1").Set("Qemu:MemoryMb", "384").Set("Qemu:Network", "open"));
            }
        }
        else
        {
            fleet.InProcessPool("linux-arm64-emulated", 2, ["linux", "arm64"], p => p.BootTimeout(TimeSpan.FromMinutes(2)));
        }

        var defaults = fleet.Build();
        await using var app = ControllerHost.Build(rest, defaults, b => b.Services.AddInProcessProvider());
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(() =>
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:5000";
            sim.Simulator.AddWebhook(new Uri(new Uri(address), "/webhooks/github"), app.Configuration["GitHub:WebhookSecret"]);
            Console.WriteLine($"""

                RunnerFleet sandbox is running.
                  fleet API:        {address}/api/runners   {address}/api/jobs   {address}/api/pools
                  GitHub simulator: {sim.BaseUrl}  (queue jobs: POST {sim.BaseUrl}_sandbox/jobs)
                  synthetic jobs:   every few seconds over {string.Join(", ", s_repositories)}
                Press Ctrl+C to stop.

                """);
        });

        using var generatorStop = new CancellationTokenSource();
        var generator = GenerateJobsAsync(sim.Simulator, s_repositories, generatorStop.Token);
        try
        {
            await app.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            await generatorStop.CancelAsync().ConfigureAwait(false);
            await generator.ConfigureAwait(false);
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { dbPath, dbPath + "-wal", dbPath + "-shm" })
            {
                File.Delete(file);
            }
        }

        return 0;
    }

    /// <summary>A steady stream of synthetic jobs over <paramref name="repositories"/> and a few label sets (one no pool serves).</summary>
    public static async Task GenerateJobsAsync(GitHubSimulator sim, IReadOnlyList<string> repositories, CancellationToken ct)
    {
        string[][] labelSets = [["self-hosted", "linux", "x64"], ["self-hosted", "linux", "x64"], ["self-hosted", "linux", "x64", "large"], ["self-hosted", "linux", "arm64"], ["self-hosted", "windows"]];
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                // Jobs no pool serves stay queued for ever (as on GitHub); they must not stop the stream.
                var queued = sim.AllJobs().Count(j => j.Status == "queued" && !j.Labels.Contains("windows"));
                if (queued < 6)
                {
                    var labels = labelSets[Random.Shared.Next(labelSets.Length)];
                    // The steps a container runner runs (others wait the duration): a "build" that adds to its warm cache.
                    var seconds = Random.Shared.Next(2, 8);
                    sim.QueueJobs(repositories[Random.Shared.Next(repositories.Count)], labels, Random.Shared.Next(1, 4), TimeSpan.FromSeconds(seconds),
                        script: $"sleep {seconds}; mkdir -p $HOME/.cache; echo \"$GITHUB_JOB\" >> $HOME/.cache/builds; echo \"builds in this cache: $(wc -l < $HOME/.cache/builds)\"");
                }

                await Task.Delay(TimeSpan.FromSeconds(4), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A Docker engine with the sim-runner image: returns the sandbox network's gateway, else why not.</summary>
    private static async Task<(string? Gateway, string Reason, bool HasArm64Image)> ProbeDockerAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            using var client = new DockerClientBuilder().WithEndpoint(new Uri("unix:///var/run/docker.sock")).WithApiVersion(new System.Version(1, 41)).Build();
            await client.System.PingAsync(cts.Token).ConfigureAwait(false);
            try
            {
                await client.Images.InspectImageAsync(Image, cts.Token).ConfigureAwait(false);
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return (null, $"Docker answers but {Image} is missing; build it with infra/sim-runner/build.sh", false);
            }

            var hasArm64 = true;
            try
            {
                await client.Images.InspectImageAsync(Arm64Image, cts.Token).ConfigureAwait(false);
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                hasArm64 = false;
            }

            var networks = await client.Networks.ListNetworksAsync(new NetworksListParameters(), cts.Token).ConfigureAwait(false);
            var network = networks.FirstOrDefault(n => n.Name == Network);
            if (network is null)
            {
                await client.Networks.CreateNetworkAsync(DockerProvider.NetworkParameters(Network, "sandbox", isolate: true), cts.Token).ConfigureAwait(false);
                network = (await client.Networks.ListNetworksAsync(new NetworksListParameters(), cts.Token).ConfigureAwait(false)).First(n => n.Name == Network);
            }

            var gateway = network.IPAM?.Config?.FirstOrDefault()?.Gateway;
            return gateway is null ? (null, "the sandbox network has no gateway address", false) : (gateway, "ok", hasArm64);
        }
        catch (Exception e) when (e is HttpRequestException or DockerApiException or IOException or SocketException or OperationCanceledException or TimeoutException)
        {
            return (null, "no Docker engine answers on /var/run/docker.sock", false);
        }
    }
}
