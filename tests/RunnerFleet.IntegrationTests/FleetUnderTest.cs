using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Hosting;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Hetzner;
using RunnerFleet.Sandbox.InProcess;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// A GitHub simulator and a controller wired together over real HTTP, with Docker pools on the test
/// network and a SQLite file of its own. Everything but GitHub is real.
/// </summary>
internal sealed class FleetUnderTest : IAsyncDisposable
{
    private readonly string _dbPath;

    private FleetUnderTest(SandboxServer sim, WebApplication app, string fleet, string dbPath, Uri controllerUrl)
    {
        Sim = sim;
        App = app;
        Fleet = fleet;
        _dbPath = dbPath;
        ControllerUrl = controllerUrl;
    }

    public SandboxServer Sim { get; }

    public GitHubSimulator GitHub => Sim.Simulator;

    public HetznerSimulator Hetzner => Sim.Hetzner ?? throw new InvalidOperationException("started without the Hetzner simulator");

    public WebApplication App { get; }

    public string Fleet { get; }

    public Uri ControllerUrl { get; }

    public IFleetStore Store => App.Services.GetRequiredService<IFleetStore>();

    /// <param name="pools">Pool settings as configuration keys relative to <c>Fleet:Pools:N</c>, per pool (Docker pools of the sim-runner image unless they say otherwise).</param>
    public static Task<FleetUnderTest> StartAsync(DockerEnvironment docker, string[] repositories, IReadOnlyList<Dictionary<string, string>> pools, bool webhooks = true, CapturedLogs? logs = null, HetznerSimulatorOptions? hetzner = null, IReadOnlyDictionary<string, string>? extra = null, Action<GitHubSimulatorOptions>? github = null, TimeProvider? time = null) =>
        StartAsync(docker, repositories, fleet =>
        {
            foreach (var pool in pools)
            {
                fleet.DockerPool(pool.GetValueOrDefault("Name", "linux"), 10, [], DockerEnvironment.Image, docker.Network, pool: p =>
                {
                    foreach (var (key, value) in pool)
                    {
                        p.Set(key, value);
                    }
                });
            }

            foreach (var (key, value) in extra ?? new Dictionary<string, string>())
            {
                fleet.Set(key, value);
            }
        }, webhooks, logs, hetzner, github, time);

    /// <summary>A GitHub simulator (and Hetzner's, when <paramref name="hetzner"/> is given) and a controller with the pools <paramref name="configure"/> adds.</summary>
    /// <param name="time">One clock for the simulators and the controller (a fake one runs simulated hours; the loops still tick in real time).</param>
    public static async Task<FleetUnderTest> StartAsync(DockerEnvironment docker, string[] repositories, Action<FleetSettings> configure, bool webhooks = true, CapturedLogs? logs = null, HetznerSimulatorOptions? hetzner = null, Action<GitHubSimulatorOptions>? github = null, TimeProvider? time = null)
    {
        var port = FreePort();
        var runnerUrl = $"http://{docker.Gateway}:{port}";
        var simOptions = new GitHubSimulatorOptions { RunnerBaseUrl = runnerUrl };
        github?.Invoke(simOptions);
        var sim = await SandboxServer.StartAsync([$"http://127.0.0.1:{port}", runnerUrl], simOptions, hetzner, time ?? TimeProvider.System, null);
        foreach (var repo in repositories)
        {
            sim.Simulator.EnsureRepository(repo);
        }

        var name = $"it{Guid.NewGuid():N}"[..10];
        var dbPath = Path.Combine(Path.GetTempPath(), $"{name}.db");
        var secret = Guid.NewGuid().ToString("N");
        var fleet = new FleetSettings(name)
            .Set("Urls", "http://127.0.0.1:0")
            .Store(dbPath)
            .GitHub(sim.BaseUrl, runnerUrl, webhookSecret: secret, pollInterval: TimeSpan.FromSeconds(2))
            .Repositories(repositories)
            .Loops(plan: TimeSpan.FromSeconds(1), reap: TimeSpan.FromSeconds(2), reconcile: TimeSpan.FromSeconds(15))
            // Runners on networks the controller makes are cut off from the host but for the simulator.
            .AllowHostPorts(port);
        if (hetzner is not null)
        {
            fleet.Hetzner(sim.HetznerApiUrl, actionPollInterval: TimeSpan.FromMilliseconds(200));
        }

        configure(fleet);
        var app = ControllerHost.Build([], fleet.Build(), b =>
        {
            b.Services.AddInProcessProvider();
            if (time is not null)
            {
                b.Services.Replace(ServiceDescriptor.Singleton(time));
            }

            if (logs is not null)
            {
                b.Services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs);
            }
        });
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        if (webhooks)
        {
            sim.Simulator.AddWebhook(new Uri(address, "/webhooks/github"), secret);
        }

        return new FleetUnderTest(sim, app, name, dbPath, address);
    }

    /// <summary>Waits for a condition of the system under test (not for time): polls it until true or the deadline.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<Task<string>> describe)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (!await condition())
        {
            if (cts.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {timeout.TotalSeconds:F0} s: {await describe()}");
            }

            await Task.Delay(250, CancellationToken.None);
        }
    }

    public async Task<string> DescribeAsync()
    {
        var runners = await Store.ListRunnersAsync(1000, CancellationToken.None);
        var jobs = GitHub.AllJobs();
        return $"runners by state: {string.Join(", ", runners.GroupBy(r => r.State).Select(g => $"{g.Key}={g.Count()}"))}; " +
               $"failures: {string.Join(" | ", runners.Where(r => r.FailureReason is not null).Select(r => r.FailureReason).Distinct())}; " +
               $"sim jobs by status: {string.Join(", ", jobs.GroupBy(j => j.Status).Select(g => $"{g.Key}={g.Count()}"))}; sim runners: {GitHub.AllRunners().Count}";
    }

    public async Task<bool> AllFinalAsync() =>
        (await Store.ListRunnersAsync(1000, CancellationToken.None)).All(r => RunnerStateMachine.IsFinal(r.State));

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Sim.DisposeAsync();
        foreach (var id in await DockerEnvironment.ContainersAsync(Fleet))
        {
            await DockerEnvironment.DockerAsync("rm", "-f", id);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { _dbPath, _dbPath + "-wal", _dbPath + "-shm" })
        {
            File.Delete(f);
        }
    }

    public static int FreePort() => SandboxServer.FreePort();
}
