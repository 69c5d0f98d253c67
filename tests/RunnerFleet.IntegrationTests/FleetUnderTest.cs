using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using RunnerFleet.Controller.Fleet;
using RunnerFleet.Controller.Hosting;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.IntegrationTests;

/// <summary>
/// A GitHub simulator and a controller wired together over real HTTP, with Docker pools on the test
/// network and a SQLite file of its own. Everything but GitHub is real.
/// </summary>
public sealed class FleetUnderTest : IAsyncDisposable
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

    /// <param name="pools">Pool settings as configuration keys relative to <c>Fleet:Pools:N</c>, per pool.</param>
    public static async Task<FleetUnderTest> StartAsync(DockerEnvironment docker, string[] repositories, IReadOnlyList<Dictionary<string, string>> pools, bool webhooks = true, CapturedLogs? logs = null, HetznerSimulatorOptions? hetzner = null, IReadOnlyDictionary<string, string>? extra = null, Action<GitHubSimulatorOptions>? github = null)
    {
        var port = FreePort();
        var runnerUrl = $"http://{docker.Gateway}:{port}";
        var simOptions = new GitHubSimulatorOptions { RunnerBaseUrl = runnerUrl };
        github?.Invoke(simOptions);
        var sim = await SandboxServer.StartAsync([$"http://127.0.0.1:{port}", runnerUrl], simOptions, hetzner, TimeProvider.System, null);
        foreach (var repo in repositories)
        {
            sim.Simulator.EnsureRepository(repo);
        }

        var fleet = $"it{Guid.NewGuid():N}"[..10];
        var dbPath = Path.Combine(Path.GetTempPath(), $"{fleet}.db");
        var secret = Guid.NewGuid().ToString("N");
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["ConnectionStrings:Fleet"] = $"Data Source={dbPath}",
            ["GitHub:ApiUrl"] = sim.BaseUrl.ToString(),
            ["GitHub:WebUrl"] = runnerUrl,
            ["GitHub:Token"] = "sandbox-token",
            ["GitHub:WebhookSecret"] = secret,
            ["GitHub:PollInterval"] = "00:00:02",
            ["Fleet:Name"] = fleet,
            ["Fleet:PlanInterval"] = "00:00:01",
            ["Fleet:ReapInterval"] = "00:00:02",
            ["Fleet:ReconcileInterval"] = "00:00:15",
            // Runners on networks the controller makes are cut off from the host but for the simulator.
            ["Docker:AllowedHostPorts:0"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (hetzner is not null)
        {
            settings["Hetzner:ApiUrl"] = sim.HetznerApiUrl.ToString();
            settings["Hetzner:Token"] = "sandbox-hcloud-token";
            settings["Hetzner:ActionPollInterval"] = "00:00:00.200";
        }
        for (var i = 0; i < repositories.Length; i++)
        {
            settings[$"GitHub:Repositories:{i}"] = repositories[i];
        }

        for (var i = 0; i < pools.Count; i++)
        {
            settings[$"Fleet:Pools:{i}:Provider"] = "docker";
            settings[$"Fleet:Pools:{i}:Docker:Image"] = DockerEnvironment.Image;
            settings[$"Fleet:Pools:{i}:Docker:Network"] = docker.Network;
            settings[$"Fleet:Pools:{i}:Docker:Cpus"] = "0.25";
            settings[$"Fleet:Pools:{i}:Docker:MemoryMb"] = "64";
            settings[$"Fleet:Pools:{i}:Docker:PidsLimit"] = "64";
            foreach (var (key, value) in pools[i])
            {
                settings[$"Fleet:Pools:{i}:{key}"] = value;
            }
        }

        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var app = ControllerHost.Build([], settings, logs is null ? null : b => b.Services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        if (webhooks)
        {
            sim.Simulator.AddWebhook(new Uri(address, "/webhooks/github"), secret);
        }

        return new FleetUnderTest(sim, app, fleet, dbPath, address);
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
