using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RunnerFleet.Sandbox.GitHub;
using RunnerFleet.Sandbox.Hetzner;

namespace RunnerFleet.Sandbox;

/// <summary>
/// The simulators served over real HTTP on the given URLs (port 0 picks a free port): GitHub at <c>/</c>,
/// Hetzner Cloud at <c>/v1</c>, either or both.
/// </summary>
public sealed class SandboxServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebhookDispatcher? _webhooks;
    private readonly HttpClient _runnerHttp;

    private SandboxServer(WebApplication app, GitHubSimulator? github, HetznerSimulator? hetzner, WebhookDispatcher? webhooks, HttpClient runnerHttp, IReadOnlyList<Uri> addresses)
    {
        _app = app;
        _simulator = github;
        Hetzner = hetzner;
        _webhooks = webhooks;
        _runnerHttp = runnerHttp;
        Addresses = addresses;
    }

    private readonly GitHubSimulator? _simulator;

    /// <summary>The GitHub simulator.</summary>
    public GitHubSimulator Simulator => _simulator ?? throw new InvalidOperationException("This sandbox server runs no GitHub simulator.");

    /// <summary>The Hetzner simulator, when started with one.</summary>
    public HetznerSimulator? Hetzner { get; }

    /// <summary>Every address the server listens on; the first is the base URL.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    public Uri BaseUrl => Addresses[0];

    /// <summary>Fires when the server's host stops (SIGTERM, Ctrl+C): a standalone simulator exits then.</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    /// <summary>The Hetzner API base (<c>…/v1</c>).</summary>
    public Uri HetznerApiUrl => new(BaseUrl, "/v1");

    /// <summary>Starts a GitHub simulator (the common case).</summary>
    public static Task<SandboxServer> StartAsync(
        IReadOnlyList<string> urls, GitHubSimulatorOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, CancellationToken ct = default) =>
        StartAsync(urls, options ?? new GitHubSimulatorOptions(), null, time, loggerFactory, ct);

    public static async Task<SandboxServer> StartAsync(
        IReadOnlyList<string> urls, GitHubSimulatorOptions? github, HetznerSimulatorOptions? hetzner, TimeProvider? time, ILoggerFactory? loggerFactory, CancellationToken ct = default)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        time ??= TimeProvider.System;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.UseUrls([.. urls]);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);
        var app = builder.Build();

        WebhookDispatcher? webhooks = null;
        GitHubSimulator? gh = null;
        if (github is not null)
        {
            webhooks = new WebhookDispatcher(new HttpClient { Timeout = TimeSpan.FromSeconds(10) }, loggerFactory.CreateLogger<WebhookDispatcher>());
            gh = new GitHubSimulator(github, time, webhooks);
            app.UseGitHubSimulatorGate(gh);
        }

        var runnerHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        HetznerSimulator? hz = null;
        if (hetzner is not null)
        {
            hz = new HetznerSimulator(hetzner, time, runnerHttp);
            app.UseHetznerSimulatorGate(hz);
            app.MapHetznerSimulator(hz);
        }

        app.MapGet("/", () => Results.Text("RunnerFleet sandbox simulators. See README: 'The GitHub simulator' and 'The Hetzner simulator'.\n"));
        if (gh is not null)
        {
            app.MapGitHubSimulator(gh);
        }

        await app.StartAsync(ct).ConfigureAwait(false);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.Select(a => new Uri(a.Replace("[::]", "127.0.0.1", StringComparison.Ordinal))).ToList();
        return new SandboxServer(app, gh, hz, webhooks, runnerHttp, addresses);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        if (_webhooks is not null)
        {
            await _webhooks.DisposeAsync().ConfigureAwait(false);
        }

        _runnerHttp.Dispose();
    }

    /// <summary>A free TCP port on loopback, for a server started next.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
