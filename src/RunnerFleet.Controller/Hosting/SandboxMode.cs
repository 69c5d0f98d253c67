using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Controller.Hosting;

/// <summary>
/// <c>--sandbox</c>: the GitHub simulator in process, a steady stream of synthetic jobs over a few
/// repositories and label sets, served by Docker containers of the simulated runner when a Docker engine
/// and the image answer, else by simulated runners in process. Command-line values still win.
/// </summary>
public static class SandboxMode
{
    public const string Network = "runnerfleet-sandbox";
    public const string Image = "runnerfleet/sim-runner:latest";
    private static readonly string[] s_repositories = ["sandbox/web", "sandbox/api", "sandbox/mobile"];

    public static async Task<int> RunAsync(string[] args)
    {
        var rest = args.Where(a => a != "--sandbox").ToArray();
        Console.WriteLine("RunnerFleet sandbox: starting the GitHub simulator ...");
        var (dockerGateway, dockerReason) = await ProbeDockerAsync().ConfigureAwait(false);
        var port = FreePort();
        var urls = new List<string> { $"http://127.0.0.1:{port}" };
        var simOptions = new GitHubSimulatorOptions();
        if (dockerGateway is not null)
        {
            // Containers reach the simulator on their bridge's gateway; nothing else is exposed.
            urls.Add($"http://{dockerGateway}:{port}");
            simOptions.RunnerBaseUrl = $"http://{dockerGateway}:{port}";
        }

        await using var sim = await SandboxServer.StartAsync(urls, simOptions).ConfigureAwait(false);
        foreach (var repo in s_repositories)
        {
            sim.Simulator.EnsureRepository(repo);
        }

        var provider = dockerGateway is null ? "inprocess" : "docker";
        Console.WriteLine(dockerGateway is null
            ? $"  runners: in process ({dockerReason})"
            : $"  runners: Docker containers of {Image} on network {Network}");
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        var defaults = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:5000",
            ["ConnectionStrings:Fleet"] = "Data Source=runnerfleet-sandbox.db",
            ["GitHub:ApiUrl"] = sim.BaseUrl.ToString(),
            ["GitHub:WebUrl"] = simOptions.RunnerBaseUrl ?? sim.BaseUrl.ToString(),
            ["GitHub:Token"] = "sandbox-token",
            ["GitHub:WebhookSecret"] = secret,
            ["GitHub:PollInterval"] = "00:00:05",
            ["Fleet:Name"] = "sandbox",
            ["Fleet:ReconcileInterval"] = "00:00:30",
            ["Fleet:Pools:0:Name"] = "linux-x64",
            ["Fleet:Pools:0:Labels:0"] = "linux",
            ["Fleet:Pools:0:Labels:1"] = "x64",
            ["Fleet:Pools:0:Provider"] = provider,
            ["Fleet:Pools:0:MaxRunners"] = "4",
            ["Fleet:Pools:0:BootTimeout"] = "00:01:00",
            ["Fleet:Pools:0:Docker:Image"] = Image,
            ["Fleet:Pools:0:Docker:Network"] = Network,
            ["Fleet:Pools:0:Docker:Cpus"] = "0.5",
            ["Fleet:Pools:0:Docker:MemoryMb"] = "128",
            ["Fleet:Pools:1:Name"] = "linux-large",
            ["Fleet:Pools:1:Labels:0"] = "linux",
            ["Fleet:Pools:1:Labels:1"] = "x64",
            ["Fleet:Pools:1:Labels:2"] = "large",
            ["Fleet:Pools:1:Provider"] = provider,
            ["Fleet:Pools:1:MaxRunners"] = "2",
            ["Fleet:Pools:1:BootTimeout"] = "00:01:00",
            ["Fleet:Pools:1:Registration"] = "RegistrationToken",
            ["Fleet:Pools:1:Docker:Image"] = Image,
            ["Fleet:Pools:1:Docker:Network"] = Network,
            ["Fleet:Pools:1:Docker:Cpus"] = "1",
            ["Fleet:Pools:1:Docker:MemoryMb"] = "256",
        };
        for (var i = 0; i < s_repositories.Length; i++)
        {
            defaults[$"GitHub:Repositories:{i}"] = s_repositories[i];
        }

        await using var app = ControllerHost.Build(rest, defaults);
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
        var generator = GenerateJobsAsync(sim.Simulator, generatorStop.Token);
        try
        {
            await app.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            await generatorStop.CancelAsync().ConfigureAwait(false);
            await generator.ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task GenerateJobsAsync(GitHubSimulator sim, CancellationToken ct)
    {
        string[][] labelSets = [["self-hosted", "linux", "x64"], ["self-hosted", "linux"], ["self-hosted", "linux", "x64", "large"], ["self-hosted", "windows"]];
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
            while (!ct.IsCancellationRequested)
            {
                var queued = sim.AllJobs().Count(j => j.Status == "queued");
                if (queued < 6)
                {
                    var labels = labelSets[Random.Shared.Next(labelSets.Length)];
                    sim.QueueJobs(s_repositories[Random.Shared.Next(s_repositories.Length)], labels, Random.Shared.Next(1, 4),
                        TimeSpan.FromSeconds(Random.Shared.Next(2, 8)));
                }

                await Task.Delay(TimeSpan.FromSeconds(4), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A Docker engine with the sim-runner image: returns the sandbox network's gateway, else why not.</summary>
    private static async Task<(string? Gateway, string Reason)> ProbeDockerAsync()
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
                return (null, $"Docker answers but {Image} is missing; build it with infra/sim-runner/build.sh");
            }

            var networks = await client.Networks.ListNetworksAsync(new NetworksListParameters(), cts.Token).ConfigureAwait(false);
            var network = networks.FirstOrDefault(n => n.Name == Network);
            if (network is null)
            {
                await client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = Network, Driver = "bridge" }, cts.Token).ConfigureAwait(false);
                network = (await client.Networks.ListNetworksAsync(new NetworksListParameters(), cts.Token).ConfigureAwait(false)).First(n => n.Name == Network);
            }

            var gateway = network.IPAM?.Config?.FirstOrDefault()?.Gateway;
            return gateway is null ? (null, "the sandbox network has no gateway address") : (gateway, "ok");
        }
        catch (Exception e) when (e is HttpRequestException or DockerApiException or IOException or SocketException or OperationCanceledException or TimeoutException)
        {
            return (null, "no Docker engine answers on /var/run/docker.sock");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
