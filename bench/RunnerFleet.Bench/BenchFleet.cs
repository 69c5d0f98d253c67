using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using RunnerFleet.Controller.GitHub;
using RunnerFleet.Controller.Hosting;
using RunnerFleet.Controller.Providers;
using RunnerFleet.Controller.Store;
using RunnerFleet.Sandbox;
using RunnerFleet.Sandbox.InProcess;
using RunnerFleet.Sandbox.GitHub;

using RunnerFleet.Controller.Fleet;

namespace RunnerFleet.Bench;

/// <summary>The GitHub simulator and a controller in this process, talking over real HTTP on loopback.</summary>
internal sealed class BenchFleet : IAsyncDisposable
{
    public const string Secret = "bench-webhook-secret-0123456789abcdef0123";
    private readonly string _db;
    private readonly HttpClient _http = new();

    private BenchFleet(SandboxServer sim, WebApplication app, Uri controller, string db)
    {
        Sim = sim;
        App = app;
        Controller = controller;
        _db = db;
    }

    public SandboxServer Sim { get; }

    public GitHubSimulator GitHub => Sim.Simulator;

    public WebApplication App { get; }

    public Uri Controller { get; }

    public IFleetStore Store => App.Services.GetRequiredService<IFleetStore>();

    /// <param name="settings">Controller settings beside the defaults (GitHub, store, fleet name).</param>
    /// <param name="provider">Replaces the registered providers (e.g. a recording one of kind inprocess).</param>
    /// <param name="gateway">An address runner containers reach the simulator on, besides loopback.</param>
    /// <param name="time">The clock of the simulators and the controller (a fake one runs simulated hours; the loops still tick in real time).</param>
    /// <param name="hetzner">Also start the Hetzner simulator (its API URL and token are set for the controller).</param>
    public static async Task<BenchFleet> StartAsync(IReadOnlyList<string> repositories, IDictionary<string, string?> settings, IRunnerProvider? provider = null, bool webhooks = true, string? gateway = null, TimeSpan? scaleSetPollWait = null,
        RunnerFleet.Sandbox.Hetzner.HetznerSimulatorOptions? hetzner = null, GitHubLatency? latency = null, IReadOnlySet<string>? publicRepositories = null, string logLevel = "Warning", TimeProvider? time = null)
    {
        var port = SandboxServer.FreePort();
        var urls = new List<string> { $"http://127.0.0.1:{port}" };
        var simOptions = new GitHubSimulatorOptions { ScaleSetPollWait = scaleSetPollWait ?? TimeSpan.FromSeconds(50), Latency = latency };
        if (gateway is not null)
        {
            urls.Add($"http://{gateway}:{port}");
            simOptions.RunnerBaseUrl = $"http://{gateway}:{port}";
        }

        var sim = await SandboxServer.StartAsync(urls, simOptions, hetzner, time ?? TimeProvider.System, null).ConfigureAwait(false);
        foreach (var repo in repositories)
        {
            sim.Simulator.EnsureRepository(repo, isPrivate: publicRepositories?.Contains(repo) != true);
        }

        var db = Path.Combine(Path.GetTempPath(), $"rf-bench-{Guid.NewGuid():N}.db");
        var builder = new FleetSettings("bench")
            .Set("Urls", "http://127.0.0.1:0")
            .Store(db)
            .GitHub(sim.BaseUrl, simOptions.RunnerBaseUrl ?? sim.BaseUrl.ToString(), webhookSecret: Secret)
            .Repositories(repositories)
            .Set("Serilog:MinimumLevel:Default", logLevel)
            .AllowHostPorts(port);
        if (hetzner is not null)
        {
            builder.Hetzner(sim.HetznerApiUrl, actionPollInterval: new RunnerFleet.Controller.Providers.Hetzner.HetznerOptions().ActionPollInterval);
        }

        var all = builder.Build();
        foreach (var (k, v) in settings)
        {
            all[k] = v;
        }

        var app = ControllerHost.Build([], all, b =>
        {
            b.Services.AddInProcessProvider();
            if (time is not null)
            {
                // One clock for the controller and the simulators (a simulated day in minutes).
                b.Services.Replace(ServiceDescriptor.Singleton(time));
            }

            if (provider is not null)
            {
                // The last keyed registration wins: the benchmark's provider stands in for its kind's.
                b.Services.AddKeyedSingleton(provider.Kind, provider);
            }
        });
        await app.StartAsync().ConfigureAwait(false);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        if (webhooks)
        {
            sim.Simulator.AddWebhook(new Uri(address, "/webhooks/github"), Secret);
        }

        return new BenchFleet(sim, app, address, db);
    }

    /// <summary>Posts the job's queued webhook and waits for the runner the controller makes for it.</summary>
    /// <returns>When the webhook was posted (Stopwatch ticks), and the new runner's name.</returns>
    public async Task<(long PostedAt, string Runner)> PostQueuedAndAwaitRunnerAsync(SimJob job)
    {
        var known = (await Store.ListRunnersAsync(1000, CancellationToken.None).ConfigureAwait(false)).Select(r => r.Name).ToHashSet();
        var postedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        await PostQueuedAsync(job).ConfigureAwait(false);
        while (true)
        {
            if ((await Store.ListRunnersAsync(1000, CancellationToken.None).ConfigureAwait(false)).Select(r => r.Name).FirstOrDefault(n => !known.Contains(n)) is { } runner)
            {
                return (postedAt, runner);
            }

            await Task.Delay(2).ConfigureAwait(false);
        }
    }

    /// <summary>POSTs a signed <c>workflow_job queued</c> webhook for a job the simulator holds, as GitHub would.</summary>
    public async Task PostQueuedAsync(SimJob job)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            action = "queued",
            workflow_job = new { id = job.Id, run_id = job.Run.Id, status = "queued", labels = job.Labels, created_at = job.CreatedAt, name = job.Name },
            repository = new { id = job.Run.Repository.Id, full_name = job.Run.Repository.FullName, @private = job.Run.Repository.Private },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Controller, "/webhooks/github")) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.Add("X-GitHub-Event", "workflow_job");
        request.Headers.Add("X-GitHub-Delivery", Guid.NewGuid().ToString());
        request.Headers.Add("X-Hub-Signature-256", WebhookSignature.Sign(Secret, body));
        using var response = await _http.SendAsync(request).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"webhook answered {(int)response.StatusCode}: {Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync().ConfigureAwait(false))}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await App.StopAsync().ConfigureAwait(false);
        await App.DisposeAsync().ConfigureAwait(false);
        await Sim.DisposeAsync().ConfigureAwait(false);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { _db, _db + "-wal", _db + "-shm" })
        {
            File.Delete(f);
        }
    }

}
