using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RunnerFleet.Sandbox.GitHub;

namespace RunnerFleet.Sandbox;

/// <summary>The GitHub simulator served over real HTTP on the given URLs (port 0 picks a free port).</summary>
public sealed class GitHubSimulatorServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebhookDispatcher _webhooks;

    private GitHubSimulatorServer(WebApplication app, GitHubSimulator simulator, WebhookDispatcher webhooks, IReadOnlyList<Uri> addresses)
    {
        _app = app;
        Simulator = simulator;
        _webhooks = webhooks;
        Addresses = addresses;
    }

    public GitHubSimulator Simulator { get; }

    /// <summary>Every address the server listens on; the first is the API base URL.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    public Uri BaseUrl => Addresses[0];

    public static async Task<GitHubSimulatorServer> StartAsync(
        IReadOnlyList<string> urls, GitHubSimulatorOptions? options = null, TimeProvider? time = null, ILoggerFactory? loggerFactory = null, CancellationToken ct = default)
    {
        loggerFactory ??= NullLoggerFactory.Instance;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.WebHost.UseUrls([.. urls]);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1024 * 1024);
        var app = builder.Build();

        var webhooks = new WebhookDispatcher(new HttpClient { Timeout = TimeSpan.FromSeconds(10) }, loggerFactory.CreateLogger<WebhookDispatcher>());
        var sim = new GitHubSimulator(options ?? new GitHubSimulatorOptions(), time ?? TimeProvider.System, webhooks);
        app.UseGitHubSimulatorGate(sim);
        app.MapGet("/", () => Results.Text("RunnerFleet GitHub simulator. See README: 'The GitHub simulator'.\n"));
        app.MapGitHubSimulator(sim);
        await app.StartAsync(ct).ConfigureAwait(false);

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.Select(a => new Uri(a.Replace("[::]", "127.0.0.1", StringComparison.Ordinal))).ToList();
        return new GitHubSimulatorServer(app, sim, webhooks, addresses);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await _webhooks.DisposeAsync().ConfigureAwait(false);
    }
}
